import json
from pathlib import Path

from gen_rank import load_pair
from lmlab_common.testing import parameters_digest, run_torchrun

SCRIPT = str(Path(__file__).with_name("torchrun_jgr.py"))


def _digests(out: Path) -> list[dict]:
    return [json.loads((out / f"digest-{r}.json").read_text()) for r in (0, 1)]


def test_jgr_trainer_under_torchrun_and_resume(tmp_path):
    first = tmp_path / "run"
    run_torchrun([SCRIPT, str(first), "4"], nproc=2, timeout=600)
    d0, d1 = _digests(first)
    assert d0["world"] == 2 and d0["step"] == 4
    assert d0["generator"] == d1["generator"] and d0["ranker"] == d1["ranker"]
    ckpt = first / "checkpoint-2"
    assert (ckpt / "generator" / "config.json").exists()
    assert (ckpt / "ranker" / "ranker_config.json").exists()
    assert (ckpt / "optimizer.pt").exists()
    # the checkpoint holds the pair as it was after step 2 (one ranker + one generator step)
    g, r, _, _ = load_pair(first / "checkpoint-4")
    assert parameters_digest(g) == d0["generator"] and parameters_digest(r) == d0["ranker"]
    # resume from step 2: the same run continues to the same weights (ranker state included)
    second = tmp_path / "resumed"
    run_torchrun([SCRIPT, str(second), "4", str(ckpt)], nproc=2, timeout=600)
    e0, e1 = _digests(second)
    assert e0["step"] == 4 and e0["generator"] == e1["generator"]
    assert e0["generator"] == d0["generator"] and e0["ranker"] == d0["ranker"]
