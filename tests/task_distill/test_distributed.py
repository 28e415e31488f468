"""All four trainers under ``torchrun --nproc_per_node 2`` (gloo, CPU), in one launch.

Each trainer: both ranks end with identical parameters, a mid-run checkpoint is written
(3 steps, save every 2; transformers also saves the last step), and a fresh trainer resumed
from it ends where the uninterrupted run ended (optimizer, scheduler, RNG, filters included).
"""

import json
from pathlib import Path

import pytest
from lmlab_common.testing import run_torchrun

WORKER = Path(__file__).with_name("ddp_worker.py")
TRAINERS = ("filter", "kd", "lwd", "ted")


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    run_torchrun([str(WORKER), str(out)], nproc=2, timeout=600)
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    return out, ranks


@pytest.mark.parametrize("name", TRAINERS)
def test_ranks_identical_one_checkpoint_and_resume(ddp_run, name):
    out, (r0, r1) = ddp_run
    assert r0[name]["digest"] == r1[name]["digest"], name
    assert r0[name]["digest_resumed"] == r1[name]["digest_resumed"], name
    assert r0[name]["global_step"] == 3 and r0[name]["resumed_global_step"] == 3
    # One mid-run checkpoint (step 2), plus the one transformers writes at the last step.
    checkpoints = sorted(p.name for p in (out / name).glob("checkpoint-*"))
    assert checkpoints == ["checkpoint-2", "checkpoint-3"], checkpoints
    ckpt = out / name / "checkpoint-2"
    assert (ckpt / "filters" / "filters.safetensors").exists() or name == "kd"
    assert (ckpt / "config.json").exists()
    # The resumed run continues the same run: same weights as the uninterrupted one.
    assert r0[name]["resume_max_diff"] <= 1e-5, r0[name]
    # Both ranks logged the same (all-reduced) losses.
    assert r0[name]["first_losses"] == r1[name]["first_losses"]
