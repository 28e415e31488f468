from pathlib import Path

from lmlab_common.testing import run_torchrun

SCRIPT = str(Path(__file__).with_name("ddp_train.py"))


def test_torchrun_two_ranks_checkpoint_and_resume(tmp_path):
    """2 gloo ranks agree exactly; a checkpoint holds the model; resuming from step 2 ends
    with exactly the weights of the uninterrupted 4-step run."""
    full, resumed = tmp_path / "full", tmp_path / "resumed"
    run_torchrun([SCRIPT, str(full), "4"], nproc=2, timeout=600)
    digests = [(full / f"digest_rank{r}.txt").read_text() for r in (0, 1)]
    assert digests[0] == digests[1]
    ckpt = full / "checkpoint-2"
    assert (ckpt / "bidir_config.json").exists() and (ckpt / "config.json").exists()
    assert (ckpt / "trainer_state.json").exists() and (ckpt / "optimizer.pt").exists()
    run_torchrun([SCRIPT, str(resumed), "4", str(ckpt)], nproc=2, timeout=600)
    again = [(resumed / f"digest_rank{r}.txt").read_text() for r in (0, 1)]
    assert again[0] == again[1] == digests[0]
