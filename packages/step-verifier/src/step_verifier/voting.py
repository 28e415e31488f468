"""Voting over sampled paths and accuracy@k averaged over random subsamples (official metrics).

Answers are normalised strings; ``None`` = no parsable answer. Invalid answers never win a vote
(they are skipped, as in the official code); a problem whose paths are all invalid predicts
``None``, which counts as wrong. Ties break towards the answer seen first.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence

from lmlab_common import require_int

DEFAULT_KS = (1, 5, 10, 20, 50, 100)
METHODS = ("majority_vote", "verifier_top1", "weighted_vote", "recall")


def _check(answers: Sequence, scores: Sequence[float] | None = None) -> None:
    if len(answers) == 0:
        raise ValueError("answers=[] is invalid; allowed: at least one path per problem")
    if scores is not None and len(scores) != len(answers):
        raise ValueError(f"{len(scores)} scores for {len(answers)} answers; allowed: one per path")


def majority_vote(answers: Sequence[str | None]) -> str | None:
    """Self-consistency: the most frequent valid answer."""
    _check(answers)
    return weighted_vote(answers, [1.0] * len(answers))


def verifier_top1(answers: Sequence[str | None], scores: Sequence[float]) -> str | None:
    """The answer of the best-scored path with a valid answer."""
    _check(answers, scores)
    best, best_score = None, float("-inf")
    for answer, score in zip(answers, scores, strict=True):
        if answer is not None and score > best_score:
            best, best_score = answer, score
    return best


def weighted_vote(answers: Sequence[str | None], scores: Sequence[float]) -> str | None:
    """DIVERSE: argmax_a Σ_i 1[a_i = a]·score_i over valid answers."""
    _check(answers, scores)
    totals: dict[str, float] = {}
    for answer, score in zip(answers, scores, strict=True):
        if answer is not None:
            totals[answer] = totals.get(answer, 0.0) + float(score)
    if not totals:
        return None
    return max(totals, key=totals.__getitem__)  # first-seen wins ties (dicts keep order)


def greedy_accuracy(greedy_answers: Sequence[str | None], golds: Sequence[str]) -> float:
    """Accuracy of one (greedy) answer per problem; None counts as wrong."""
    if len(greedy_answers) != len(golds):
        raise ValueError(f"{len(greedy_answers)} answers for {len(golds)} problems")
    if not golds:
        raise ValueError("golds=[] is invalid; allowed: at least one problem")
    return sum(a is not None and a == g for a, g in zip(greedy_answers, golds, strict=True)) / len(
        golds
    )


@dataclasses.dataclass
class VoteReport:
    """Accuracy per method and k (``accuracy[method][k]``), plus invalid-answer counts."""

    accuracy: dict[str, dict[int, float]]
    num_problems: int
    invalid_paths: int
    total_paths: int
    ks: list[int]

    def to_dict(self) -> dict:
        return {
            "accuracy": {
                m: {str(k): v for k, v in row.items()} for m, row in self.accuracy.items()
            },
            "num_problems": self.num_problems,
            "invalid_paths": self.invalid_paths,
            "total_paths": self.total_paths,
            "ks": self.ks,
        }


def evaluate_at_k(
    answers: Sequence[Sequence[str | None]],
    golds: Sequence[str],
    scores: Sequence[Sequence[float]] | None = None,
    ks: Sequence[int] | None = None,
    repeats: int = 10,
    seed: int = 0,
) -> VoteReport:
    """Accuracy@k of majority vote, verifier top-1, weighted vote and recall (oracle), each
    averaged over ``repeats`` random size-k subsets of every problem's paths (official
    ``compute_results_avg``; a k equal to the path count uses all paths once).

    ``ks=None`` takes the default k's that fit the smallest path count; an explicit k larger
    than some problem's path count is an error. Without ``scores`` only majority and recall.
    """
    if len(answers) != len(golds):
        raise ValueError(f"{len(answers)} answer lists for {len(golds)} golds; allowed: equal")
    if not golds:
        raise ValueError("no problems to evaluate; allowed: at least one")
    require_int("repeats", repeats, low=1)
    for i, row in enumerate(answers):
        if len(row) == 0:
            raise ValueError(f"problem {i} has no paths; allowed: at least one path per problem")
        if scores is not None and len(scores[i]) != len(row):
            raise ValueError(f"problem {i}: {len(scores[i])} scores for {len(row)} paths")
    fewest = min(len(row) for row in answers)
    if ks is None:
        ks = [k for k in DEFAULT_KS if k <= fewest] or [fewest]
    for k in ks:
        require_int("k", k, low=1, high=fewest)
    methods = ["majority_vote", "recall"]
    if scores is not None:
        methods += ["verifier_top1", "weighted_vote"]
    rng = random.Random(seed)
    acc = {m: {} for m in methods}
    for k in ks:
        hits = {m: 0.0 for m in methods}
        for i, row in enumerate(answers):
            reps = 1 if k == len(row) else repeats
            for _ in range(reps):
                idx = rng.sample(range(len(row)), k)
                sub = [row[j] for j in idx]
                gold = golds[i]
                hits["majority_vote"] += (majority_vote(sub) == gold) / reps
                hits["recall"] += (gold in sub) / reps
                if scores is not None:
                    sub_scores = [scores[i][j] for j in idx]
                    hits["verifier_top1"] += (verifier_top1(sub, sub_scores) == gold) / reps
                    hits["weighted_vote"] += (weighted_vote(sub, sub_scores) == gold) / reps
        for m in methods:
            acc[m][k] = hits[m] / len(answers)
    invalid = sum(a is None for row in answers for a in row)
    total = sum(len(row) for row in answers)
    return VoteReport(acc, len(golds), invalid, total, list(ks))
