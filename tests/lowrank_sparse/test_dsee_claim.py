"""DSEE's claim at small scale on the real all-MiniLM-L6-v2 weights.

Paper (ACL 2023 abstract): DSEE with ~0.5% trainable parameters performs comparably to full
fine-tuning on BERT, and its pruned model saves inference FLOPs at comparable performance.
Here: a seeded negation-sentiment task that a frozen encoder with a linear head cannot solve;
full fine-tuning, head only and DSEE (< 1% trainable) train for the same steps; then 3 of 12
heads per layer are removed by the |delta W| score and DSEE fine-tunes briefly.
"""

from __future__ import annotations

import pytest
from lowrank_sparse.dsee.experiment import ClaimSettings, run_claim

MARGIN_DSEE = 0.05  # DSEE accuracy >= full fine-tuning - 5 points
MARGIN_PRUNED = 0.05  # after removing 25% of heads: >= full fine-tuning - 5 points
HEAD_GAP = 0.10  # the task needs adaptation: head only is >= 10 points below DSEE


@pytest.mark.claim
def test_dsee_close_to_full_finetuning_with_under_one_percent_and_pruned_heads():
    settings = ClaimSettings(
        steps=100, prune_steps=20, seed=0, grebsmo_iters=30, grebsmo_rank_step=9
    )
    result = run_claim(settings)
    acc, frac = result.accuracy, result.trainable_fraction
    summary = f"accuracy {acc}, trainable {frac}, MACs saved {result.macs_saved_by_heads:.3f}"
    assert frac["dsee"] < 0.01, summary
    assert acc["head"] <= acc["dsee"] - HEAD_GAP, summary
    assert acc["dsee"] >= acc["full"] - MARGIN_DSEE, summary
    assert result.macs_saved_by_heads > 0.05, summary  # heads really removed
    assert acc["dsee_pruned"] >= acc["full"] - MARGIN_PRUNED, summary
