"""The MIM claim at small scale: with the same model size, initialisation, documents and steps,
meet-in-the-middle infilling beats left-to-right-only infilling on toy programs whose middle
depends on both sides of the hole. FIM and forward perplexity are measured and reported."""

import pytest
from bidir_lm.experiment import ArmSetup, run_arm

STEPS, EVAL = 250, 100


@pytest.fixture(scope="module")
def arms():
    return {m: run_arm(ArmSetup(method=m, steps=STEPS, eval_examples=EVAL, seed=0))
            for m in ("l2r", "mim", "fim")}  # fmt: skip


@pytest.mark.claim
def test_mim_infilling_beats_left_to_right(arms):
    mim, l2r = arms["mim"], arms["l2r"]
    report = {m: {k: round(a[k], 3) for k in ("exact_match", "validity", "forward_perplexity")}
              for m, a in arms.items()}  # fmt: skip
    print("claim:", report)
    # L2R can only guess the cast (1 of 8 types): ~0.125 expected; MIM sees the suffix.
    assert mim["exact_match"] >= l2r["exact_match"] + 0.5, report
    assert mim["validity"] >= l2r["validity"] + 0.5, report
    assert mim["met"] >= 0.9, report


@pytest.mark.claim
def test_mim_infilling_beats_fim_at_this_budget(arms):
    # Measured (seed 0, 250 steps): MIM EM 1.00, FIM 0.00 — FIM must learn to look up the
    # suffix's type far back in its prompt, which this budget does not reach.
    assert arms["mim"]["exact_match"] >= arms["fim"]["exact_match"] + 0.5
    # Forward perplexity, MIM vs L2R: reported, not asserted (measured 2.863 vs 2.834: MIM is
    # not a better left-to-right LM at this scale; see the README).
    print("forward ppl:", {m: round(a["forward_perplexity"], 3) for m, a in arms.items()})
