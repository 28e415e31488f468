"""The paper's central claim at small scale (see task_distill.experiment.ClaimSetup).

One seeded run: a BERT teacher (2×64) whose states are dominated by two label-independent
nuisance variables; a 2×16 student fine-tuned on 200 labelled examples; stage I on both; then
KD, LWD, TED (default: normalised layer loss, α=1) and TED with the official raw layer loss
(α=100) for the same number of steps from that same student.
"""

import pytest
from task_distill.experiment import ClaimSetup, run_claim

pytestmark = pytest.mark.claim

# Measured (seed 0, 2026-12-01, the same run as `reproduce` seed 0): teacher 99.2, fine-tuned
# student 73.6, KD 73.6, LWD 79.2, TED (default, normalised) 80.8, TED (official raw MSE,
# α=100) 89.2 (test accuracy %). Margins are a third to half of the official-loss gaps.
KD_MARGIN = 0.05
LWD_MARGIN = 0.03


@pytest.fixture(scope="module")
def claim():
    return run_claim(ClaimSetup(seed=0, arms=("kd", "lwd", "ted", "ted_official")))


def test_teacher_is_good_and_student_has_room(claim):
    assert claim["teacher_acc"] >= 0.9
    assert claim["student_finetuned_acc"] <= claim["teacher_acc"] - 0.05


def test_official_ted_beats_kd_and_lwd(claim):
    # The paper's TED (official raw layer loss and weight) on its premise.
    assert claim["ted_official_acc"] >= claim["kd_acc"] + KD_MARGIN, claim
    assert claim["ted_official_acc"] >= claim["lwd_acc"] + LWD_MARGIN, claim


def test_ted_beats_kd(claim):
    assert claim["ted_acc"] >= claim["kd_acc"] + KD_MARGIN, claim


@pytest.mark.xfail(
    strict=True,
    reason="measured seed 0: default TED (normalised layer loss, α=1) 80.8 vs LWD 79.2, "
    "+1.6 points < the 3-point margin; the official raw loss at α=100 gives 89.2 (+10.0)",
)
def test_ted_beats_lwd(claim):
    assert claim["ted_acc"] >= claim["lwd_acc"] + LWD_MARGIN, claim


def test_filtered_teacher_states_keep_task_lose_nuisance(claim):
    # Measured: nuisance share of the variance 0.073 raw -> 0.005 filtered; label probe 0.992
    # on both. (The raw share is measured at the last layer, after the teacher has partly
    # absorbed the injected codes; at the embeddings they hold most of the variance.)
    raw, filtered = claim["probe_raw"], claim["probe_filtered"]
    assert filtered["nuisance_share"] <= 0.5 * raw["nuisance_share"], claim
    assert filtered["task_probe_acc"] >= raw["task_probe_acc"] - 0.05, claim
