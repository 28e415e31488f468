"""Claim (LoSparse, ICML 2023) at small scale on the real all-MiniLM-L6-v2 weights.

At an equal budget (20% of the 36 encoder matrices' parameters), each arm is trained for the
same steps to match the original model's mean-pooled sentence embeddings on real sentences;
LoSparse (fixed split rho_L = 0.05, gradual row pruning of S) must end closer to the original
(held-out mean cosine) than low-rank only (truncated SVD at the start) and prune-only (same
scores and schedule on the rows of W), by a margin. The 3-seed, 3-budget version is
``lowrank-sparse reproduce``.
"""

import pytest
import torch
from lmlab_common import load_minilm
from lowrank_sparse.experiment import run_arm

BUDGET, STEPS, BATCH, MARGIN = 0.2, 40, 8, 0.05


@pytest.mark.claim
def test_losparse_beats_both_baselines_at_equal_budget():
    torch.set_num_threads(2)
    teacher, tokenizer = load_minilm()
    results = {
        arm: run_arm(
            arm,
            budget=BUDGET,
            steps=STEPS,
            batch_size=BATCH,
            seed=0,
            n_eval=128,
            teacher=teacher,
            tokenizer=tokenizer,
        )
        for arm in ("losparse", "low_rank_only", "prune_only")
    }
    ratios = {arm: r.ratio for arm, r in results.items()}
    # exactly matched budgets (within one row / one rank per model)
    assert all(abs(ratio - BUDGET) < 0.002 for ratio in ratios.values()), ratios
    cos = {arm: r.cosine for arm, r in results.items()}
    assert cos["losparse"] > cos["low_rank_only"] + MARGIN, cos
    assert cos["losparse"] > cos["prune_only"] + MARGIN, cos
