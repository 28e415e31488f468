"""Per-item confidence and how well it ranks right answers above wrong ones.

Confidence of a label, strongest evidence first:
- ``logprob``: the probability the model gave the tokens of the label it answered,
  ``exp(sum of their log-probabilities)`` (servers that return token logprobs, and the local
  transformers backend);
- ``votes``: the self-consistency vote share of the winning label;
- ``verbalised``: what the model says when asked (``AnnotateConfig(ask_confidence=True)``).

Calibration against gold: AUROC of confidence for telling right from wrong answers (0.5 =
no better than chance) and accuracy at coverage (keep the most confident fraction of items).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from .backends import Completion

COVERAGES = (0.5, 0.8, 0.9, 1.0)
_STATED = re.compile(r"confidence\s*(?:is|of|:|=)?\s*(\d{1,3}(?:\.\d+)?)\s*(%?)", re.IGNORECASE)


def stated_confidence(text: str | None) -> float | None:
    """A verbalised confidence ("confidence: 80%", "Confidence = 0.8") as a number in [0, 1]."""
    match = _STATED.search(text or "")
    if match is None:
        return None
    value = float(match.group(1))
    if match.group(2) or value > 1.0:
        value /= 100.0
    return value if 0.0 <= value <= 1.0 else None


def label_confidence(completion: Completion, span: tuple[int, int] | None) -> float | None:
    """Probability of the tokens that overlap ``span`` (the label's place in the text).

    ``None`` when the backend gave no token logprobs or the span is unknown."""
    if not completion.tokens or span is None:
        return None
    start, end = span
    position, total, hit = 0, 0.0, False
    for token, logprob in completion.tokens:
        after = position + len(token)
        if after > start and position < end:
            total += float(logprob)
            hit = True
        position = after
        if position >= end:
            break
    return math.exp(total) if hit else None


def auroc(scores: Sequence[float], correct: Sequence[bool]) -> float | None:
    """P(a random right answer scores above a random wrong one), ties count half.

    ``None`` when all answers are right or all are wrong (nothing to rank)."""
    if len(scores) != len(correct):
        raise ValueError(f"len(scores)={len(scores)} != len(correct)={len(correct)}")
    pairs = sorted(zip(scores, correct, strict=True), key=lambda x: x[0])
    n_pos = sum(1 for _, c in pairs if c)
    n_neg = len(pairs) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    # Mann-Whitney U from mid-ranks (average rank within a group of tied scores)
    rank_sum, i = 0.0, 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        mid_rank = (i + 1 + j) / 2
        rank_sum += mid_rank * sum(1 for k in range(i, j) if pairs[k][1])
        i = j
    u = rank_sum - n_pos * (n_pos + 1) / 2
    return u / (n_pos * n_neg)


def accuracy_at_coverage(
    scores: Sequence[float], correct: Sequence[bool], coverages: Sequence[float] = COVERAGES
) -> dict[str, float]:
    """Accuracy on the most confident ``coverage`` fraction of items, for each coverage."""
    if not scores:
        raise ValueError("scores is empty; allowed: at least one item")
    order = sorted(range(len(scores)), key=lambda i: -scores[i])  # stable: ties keep order
    out = {}
    for coverage in coverages:
        if not 0.0 < coverage <= 1.0:
            raise ValueError(f"coverage={coverage!r} is invalid; allowed: a number in (0, 1]")
        keep = order[: max(1, round(coverage * len(order)))]
        out[f"{coverage:g}"] = sum(correct[i] for i in keep) / len(keep)
    return out


def needs_review(record: dict, min_confidence: float) -> bool:
    """An answered item whose confidence is below the minimum (or unknown), or no label."""
    if record.get("status") == "failed":
        return False  # not an answer: rerun it with --retry-failed
    confidence = record.get("confidence")
    return record.get("label") is None or confidence is None or confidence < min_confidence
