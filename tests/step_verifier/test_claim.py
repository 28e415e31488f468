"""The DIVERSE mechanics at CI budget (marker ``claim``); ``reproduce`` measures the full table.

1. A verifier trained on paths from the strategy mixture separates held-out right and wrong
   paths well above chance (path AUC), and the GSM8K rule's step labels are what the rule says.
2. With a tiny generator trained briefly: greedy < self-consistency < verifier-weighted voting.
"""

import tempfile

import pytest
import torch
from step_verifier import GSM8KLabeler, roc_auc, step_result, synthetic_tokenizer
from step_verifier.experiment import ExperimentConfig, run_seed, train_verifier
from step_verifier.labeling import is_correct, positives
from step_verifier.synthetic import SyntheticTask

pytestmark = pytest.mark.claim


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_verifier_beats_chance_and_step_labels_follow_the_rule():
    cfg = ExperimentConfig(verifier_steps=250)
    task = SyntheticTask(cfg.task, seed=11)
    train, test = task.problems(250, paths=8), task.problems(80, paths=10)
    verifier = train_verifier(train, synthetic_tokenizer(), cfg, 0.1, 0, tempfile.mkdtemp())
    questions = [p.question for p in test for _ in p.paths]
    scored = verifier.score(questions, [x for p in test for x in p.paths], show_progress=False)
    ok = [is_correct(x, p.gold_answer) for p in test for x in p.paths]
    auc = roc_auc([s.score for s in scored], ok)
    assert auc > 0.7, f"path AUC {auc:.3f}"
    # step labels: correct paths all 1; a wrong path's step k is 1 iff its result multiset so
    # far is inside a positive's; shortcut paths' copied answers are wrong unless they match
    labeler = GSM8KLabeler()
    seen_zero = seen_one_in_wrong = 0
    for problem in test:
        pos = [_results(p.steps) for p in positives(problem)]
        for path, row in zip(problem.paths, labeler.label(problem), strict=True):
            assert len(row) == len(path.steps)
            if is_correct(path, problem.gold_answer):
                assert row == [1] * len(row)
                continue
            for k, label in enumerate(row):
                prefix = _results(path.steps[: k + 1])
                assert label == int(bool(prefix) and any(_contains(q, prefix) for q in pos))
            seen_zero += row.count(0)
            seen_one_in_wrong += row.count(1)
    assert seen_zero > 0 and seen_one_in_wrong > 0  # both kinds occur on wrong paths


def _results(steps):
    return sorted(r for s in steps if (r := step_result(s)) is not None)


def _contains(big, small):
    big = list(big)
    for x in small:
        if x not in big:
            return False
        big.remove(x)
    return True


def test_greedy_below_self_consistency_below_weighted_vote():
    cfg = ExperimentConfig(
        generator_steps=450,
        train_questions=200,
        test_questions=60,
        test_paths=10,
        verifier_steps=200,
        alphas=(0.1,),
        repeats=5,
    )
    result = run_seed(cfg, seed=0)
    greedy = result["greedy"]
    majority = result["majority_vote"][10]
    weighted = result["alpha=0.1"]["weighted_vote"][10]
    numbers = f"greedy {greedy:.3f}, majority@10 {majority:.3f}, weighted@10 {weighted:.3f}"
    assert greedy + 0.2 < majority, numbers
    assert majority + 0.05 < weighted, numbers


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="measured at reproduce size, seed 0: weighted vote@5 0.900 (α=0.1) vs 0.908 (α=0), "
    "AUC among careful paths 0.512 vs 0.480 (dropout 0.1; with dropout 0: weighted vote@5 0.878 vs "
    "0.875, careful AUC 0.521 vs 0.512) - the verifier learned to reject the shortcut, not "
    "to check the arithmetic, so step supervision does not change the vote",
)
def test_step_aware_beats_plain_by_a_margin():
    result = run_seed(ExperimentConfig(), seed=0)
    plain, aware = result["alpha=0"], result["alpha=0.1"]
    assert aware["weighted_vote"][5] >= plain["weighted_vote"][5] + 0.02
    assert aware["careful_path_auc"] >= plain["careful_path_auc"] + 0.05
