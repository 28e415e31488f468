"""LoSparse pruning inside the Trainer under ``torchrun --nproc_per_node 2`` (gloo, CPU).

Both ranks must end with identical weights and identical keep masks (the importance EMAs are
computed from all-reduced gradients), a checkpoint holds the pruner's state, and a run resumed
from it ends where the uninterrupted run ended.
"""

import json
from pathlib import Path

import pytest
from lmlab_common.testing import run_torchrun

WORKER = Path(__file__).with_name("ddp_worker.py")


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    run_torchrun([str(WORKER), str(out)], nproc=2, timeout=600)
    return out, [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]


def test_ranks_agree_and_resume_continues_the_schedule(ranks):
    out, (r0, r1) = ranks
    for run in ("straight", "resumed"):
        assert r0[run]["digest"] == r1[run]["digest"], run
        assert r0[run]["masks"] == r1[run]["masks"], run
        assert r0[run]["pruner_step"] == 6, r0[run]
    assert r0["straight"]["ratio"] == pytest.approx(0.3, abs=0.02)
    assert (out / "run" / "checkpoint-4" / "losparse_pruner.safetensors").is_file()
    assert r0["resumed"]["masks"] == r0["straight"]["masks"]
    assert r0["resumed"]["digest"] == r0["straight"]["digest"]
