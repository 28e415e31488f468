from collections import Counter

import pytest
from step_verifier import (
    EntailmentLabeler,
    GSM8KLabeler,
    Problem,
    ReasoningPath,
    evaluate_at_k,
    greedy_accuracy,
    majority_vote,
    parse_gsm8k_solution,
    roc_auc,
    step_result,
    verifier_top1,
    weighted_vote,
)
from step_verifier.labeling import positives


def _p(text):
    return parse_gsm8k_solution(text)


def test_gsm8k_rule_on_a_hand_case():
    gold = _p("a <<2+3=5>>5\nb <<5*2=10>>10\n#### 10")
    problem = Problem("q", "10", gold, [
        _p("x <<3+2=5>>5\ny <<5*2=10>>10\n#### 10"),  # correct: all 1
        _p("x <<2+3=5>>5\ny <<5*3=15>>15\n#### 15"),  # wrong at step 2
        _p("x <<2+3=6>>6\ny <<6*2=12>>12\n#### 12"),  # wrong from step 1
        _p("talk only\n#### 5"),  # empty multiset at step 1 -> 0; {5} ⊆ gold -> 1
    ])  # fmt: skip
    labels = GSM8KLabeler().label(problem)
    assert labels == [[1, 1, 1], [1, 0, 0], [0, 0, 0], [0, 1]]


def test_gsm8k_rule_matches_definition_on_synthetic_paths(problems):
    """Every label equals: multiset of results so far ⊆ some positive's multiset."""
    for problem in problems:
        pos = [Counter(r for s in p.steps if (r := step_result(s))) for p in positives(problem)]
        for path, row in zip(problem.paths, GSM8KLabeler().label(problem), strict=True):
            ok = path.answer == problem.gold_answer
            for k, label in enumerate(row):
                prefix = Counter(r for s in path.steps[: k + 1] if (r := step_result(s)))
                expect = ok or (bool(prefix) and any(prefix <= q for q in pos))
                assert label == int(expect)


def test_entailment_labeler_scores_every_batch():
    """Official bug: only the last NLI batch was written back. Here batch_size=1 forces one
    call per pair, and the labels must equal those of one big batch."""
    calls = []

    def entails(pairs):
        calls.append(len(pairs))
        return [a.split()[-1] == b.split()[-1] for a, b in pairs]

    gold = ReasoningPath(["we get 5", "then 7", "#### 7"], "7")
    problem = Problem("q", "7", gold, [
        ReasoningPath(["so 5", "then 6", "#### 6"], "6"),
        ReasoningPath(["so 4", "then 7", "#### 7"], "7"),
    ])  # fmt: skip
    small = EntailmentLabeler(entails, batch_size=1).label(problem)
    assert max(calls) == 1 and len(calls) > 2
    big = EntailmentLabeler(entails, batch_size=1000).label(problem)
    assert small == big == [[1, 0, 0], [1, 1, 1]]
    with pytest.raises(ValueError, match="one bool per pair"):
        EntailmentLabeler(lambda pairs: [True], batch_size=4).label(problem)


def test_votes_and_invalid_answers():
    answers = ["3", None, "4", "4", None]
    scores = [0.9, 1.0, 0.2, 0.3, 1.0]
    assert majority_vote(answers) == "4"
    assert verifier_top1(answers, scores) == "3"  # the best *valid* path
    assert weighted_vote(answers, scores) == "3"  # 0.9 > 0.5
    assert majority_vote([None, None]) is None
    assert weighted_vote(["1", "2"], [0.5, 0.5]) == "1"  # tie -> first seen
    with pytest.raises(ValueError, match="at least one path"):
        majority_vote([])
    with pytest.raises(ValueError, match="one per path"):
        weighted_vote(["1"], [0.1, 0.2])
    assert greedy_accuracy(["1", None], ["1", "2"]) == 0.5


def test_evaluate_at_k():
    answers = [["1", "1", "2", None], ["5", "6", "6", "6"]]
    golds = ["1", "5"]
    scores = [[0.9, 0.8, 0.1, 0.5], [0.99, 0.1, 0.1, 0.1]]
    report = evaluate_at_k(answers, golds, scores, ks=[1, 4], repeats=20, seed=0)
    assert report.accuracy["majority_vote"][4] == 0.5
    assert report.accuracy["weighted_vote"][4] == 1.0
    assert report.accuracy["recall"][4] == 1.0
    assert report.invalid_paths == 1 and report.total_paths == 8
    assert 0 < report.accuracy["recall"][1] < 1
    assert evaluate_at_k(answers, golds).ks == [1]  # default k's that fit 4 paths
    with pytest.raises(ValueError, match="k=5"):
        evaluate_at_k(answers, golds, ks=[5])
    with pytest.raises(ValueError, match="no paths"):
        evaluate_at_k([[], ["1"]], golds)


def test_roc_auc():
    assert roc_auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert roc_auc([0.5, 0.5], [0, 1]) == 0.5
    assert roc_auc([0.9, 0.1, 0.3], [0, 1, 1]) == 0.0
    assert roc_auc([0.1], [1]) != roc_auc([0.1], [1])  # NaN: one class only
