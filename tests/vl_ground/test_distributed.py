import json
from pathlib import Path

from lmlab_common.testing import run_torchrun

WORKER = str(Path(__file__).with_name("ddp_worker.py"))


def _digests(out: Path, steps: int) -> list[dict]:
    return [json.loads((out / f"digest-{r}-{steps}.json").read_text()) for r in (0, 1)]


def test_two_ranks_identical_checkpoint_and_resume(tmp_path):
    run_torchrun([WORKER, str(tmp_path), "2", "fresh"], nproc=2)
    first = _digests(tmp_path, 2)
    assert first[0]["digest"] == first[1]["digest"] and first[0]["step"] == 2
    checkpoint = tmp_path / "checkpoint-2"
    assert (checkpoint / "model.safetensors").exists()
    assert (checkpoint / "grill_processor.json").exists()
    run_torchrun([WORKER, str(tmp_path), "4", "resume"], nproc=2)
    second = _digests(tmp_path, 4)
    assert second[0]["digest"] == second[1]["digest"] and second[0]["step"] == 4
    assert second[0]["digest"] != first[0]["digest"]
    # The interrupted-and-resumed run ends exactly where an uninterrupted 4-step run ends (this
    # caught Trainer's resume skipping the ViT weights, saved under legacy key names).
    straight = tmp_path / "straight"
    run_torchrun([WORKER, str(straight), "4", "fresh"], nproc=2)
    assert _digests(straight, 4)[0]["digest"] == second[0]["digest"]
