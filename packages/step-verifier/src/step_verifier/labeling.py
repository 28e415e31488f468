"""Step labels: "is this path still consistent with some correct path up to step k?"

Positives are the gold solution plus every path whose answer equals the gold answer; all their
steps are correct. For a wrong path, step k is correct iff it matches some positive up to k:

- :class:`GSM8KLabeler` (official ``GSM8KExample.match``): the multiset of step results over
  steps 1..k (unparsable ones dropped) is contained in some positive's multiset; empty → 0.
- :class:`EntailmentLabeler` (official ``TextEntailmentExample.match``): for every j ≤ k with
  j < len(P), step j and P's step j entail each other both ways under an NLI model, given as a
  batched function. Every pair is scored exactly once and its result is stored under its own
  key, so a case needing several NLI batches gets every result (the official code wrote back
  only the last batch's results and treated unfilled entries as entailed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Protocol

from lmlab_common import require_int

from .data import Problem, ReasoningPath, step_result


class StepLabeler(Protocol):
    """Anything that labels the steps of every path of a problem (1 = correct so far)."""

    def label(self, problem: Problem) -> list[list[int]]: ...


def positives(problem: Problem) -> list[ReasoningPath]:
    """The gold solution (if any) and every path whose answer equals the gold answer."""
    found = [] if problem.gold_solution is None else [problem.gold_solution]
    return found + [p for p in problem.paths if is_correct(p, problem.gold_answer)]


def is_correct(path: ReasoningPath, gold_answer: str) -> bool:
    return path.answer is not None and path.answer == gold_answer


def _prefix_multisets(path: ReasoningPath) -> list[Counter]:
    out, running = [], Counter()
    for step in path.steps:
        result = step_result(step)
        if result is not None:
            running = running + Counter([result])
        out.append(running)
    return out


class GSM8KLabeler:
    """The official GSM8K rule on calculator results (see the module docstring)."""

    def label(self, problem: Problem) -> list[list[int]]:
        pos = positives(problem)
        full = [_prefix_multisets(p)[-1] if p.steps else Counter() for p in pos]
        labels = []
        for path in problem.paths:
            if is_correct(path, problem.gold_answer):
                labels.append([1] * len(path.steps))
                continue
            row = []
            for prefix in _prefix_multisets(path):
                ok = bool(prefix) and any(prefix <= other for other in full)
                row.append(int(ok))
            labels.append(row)
        return labels


NLIFunction = Callable[[Sequence[tuple[str, str]]], Sequence[bool]]


class EntailmentLabeler:
    """Free-text steps labelled by mutual entailment with a positive path's steps.

    ``entails(pairs) -> [bool]`` scores a batch of (premise, hypothesis) pairs, e.g. an MNLI
    model's "entailment" argmax. It is called with at most ``batch_size`` pairs at a time.
    """

    def __init__(self, entails: NLIFunction, batch_size: int = 256) -> None:
        require_int("batch_size", batch_size, low=1)
        self.entails = entails
        self.batch_size = batch_size

    def _score(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], bool]:
        unique = list(dict.fromkeys(pairs))
        results: dict[tuple[str, str], bool] = {}
        for start in range(0, len(unique), self.batch_size):
            batch = unique[start : start + self.batch_size]
            out = list(self.entails(batch))
            if len(out) != len(batch):
                raise ValueError(
                    f"entails() returned {len(out)} results for {len(batch)} pairs; allowed: one "
                    "bool per pair"
                )
            results.update(zip(batch, (bool(x) for x in out), strict=True))
        return results

    def label(self, problem: Problem) -> list[list[int]]:
        pos = positives(problem)
        wrong = [p for p in problem.paths if not is_correct(p, problem.gold_answer)]
        pairs = []
        for path in wrong:
            for other in pos:
                for a, b in zip(path.steps, other.steps, strict=False):
                    pairs += [(a, b), (b, a)]
        scores = self._score(pairs)
        labels = []
        for path in problem.paths:
            if is_correct(path, problem.gold_answer):
                labels.append([1] * len(path.steps))
                continue
            row = []
            for k in range(len(path.steps)):
                ok = any(
                    all(
                        scores[(path.steps[j], other.steps[j])]
                        and scores[(other.steps[j], path.steps[j])]
                        for j in range(min(k + 1, len(other.steps)))
                    )
                    for other in pos
                )
                row.append(int(ok))
            labels.append(row)
        return labels


def label_problems(problems: Sequence[Problem], labeler: StepLabeler | None = None) -> list:
    """Step labels for every path of every problem (default: :class:`GSM8KLabeler`)."""
    labeler = labeler or GSM8KLabeler()
    return [labeler.label(p) for p in problems]
