"""VQA exact match, grounding accuracy at IoU > 0.5, caption attribute F1."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from .boxes import iou
from .scenes import COLOURS, SHAPES, SIZES

_OBJECT = re.compile(rf"(?:({'|'.join(SIZES)}) )?({'|'.join(COLOURS)}) ({'|'.join(SHAPES)})")


def normalise_answer(text: str) -> str:
    return " ".join(text.lower().replace("?", " ").replace(".", " ").split())


def vqa_accuracy(predictions: Sequence[str], answers: Sequence[str]) -> float:
    """Exact match after lower-casing and dropping punctuation."""
    if len(predictions) != len(answers):
        raise ValueError(f"predictions has {len(predictions)} items; allowed: {len(answers)}")
    if not answers:
        return float("nan")
    hits = sum(
        normalise_answer(p) == normalise_answer(a)
        for p, a in zip(predictions, answers, strict=False)
    )
    return hits / len(answers)


def grounding_accuracy(predicted: Sequence, gold: Sequence, threshold: float = 0.5) -> float:
    """Fraction with IoU(predicted, gold) > threshold; a missing/malformed box (None) is wrong."""
    if len(predicted) != len(gold):
        raise ValueError(f"predicted has {len(predicted)} boxes; allowed: {len(gold)}")
    if not gold:
        return float("nan")
    return sum(iou(p, g) > threshold for p, g in zip(predicted, gold, strict=False)) / len(gold)


def caption_objects(caption: str) -> Counter:
    """Multiset of (size, colour, shape) mentions; size is '' when not said."""
    return Counter((m[0] or "", m[1], m[2]) for m in _OBJECT.findall(caption.lower()))


def caption_attribute_f1(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Micro F1 of the (size, colour, shape) mentions of predicted vs reference captions."""
    tp = fp = fn = 0
    for pred, ref in zip(predictions, references, strict=True):
        p, r = caption_objects(pred), caption_objects(ref)
        hit = sum((p & r).values())
        tp, fp, fn = tp + hit, fp + sum(p.values()) - hit, fn + sum(r.values()) - hit
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
