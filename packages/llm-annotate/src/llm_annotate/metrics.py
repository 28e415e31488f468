"""Measurement: accuracy and Cohen's kappa against gold, confusion, inter-mode agreement, label
distribution, token usage and cost.

Items without a label (unparseable or failed) count as wrong for accuracy and as their own
category ``"<none>"`` for kappa and confusion, so a mode cannot look better by abstaining;
``coverage`` reports the labelled fraction separately.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import yaml

from .confidence import accuracy_at_coverage, auroc

NONE = "<none>"


def answer_key(value: Any) -> str:
    """A comparable string for an answer: the label itself, ``<none>`` for no answer, sorted
    compact JSON for a label list (multi_label) or an object (extraction)."""
    if value is None:
        return NONE
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def set_scores(gold: Sequence[list[str]], pred: Sequence[list[str] | None]) -> dict[str, float]:
    """Micro precision, recall and F1 over label sets (no answer = the empty set)."""
    tp = fp = fn = 0
    for g, p in zip(gold, pred, strict=True):
        g_set, p_set = set(g), set(p or [])
        tp += len(g_set & p_set)
        fp += len(p_set - g_set)
        fn += len(g_set - p_set)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def accuracy(gold: Sequence[Any], pred: Sequence[Any]) -> float:
    if len(gold) != len(pred):
        raise ValueError(f"len(gold)={len(gold)} != len(pred)={len(pred)}; allowed: equal lengths")
    if not gold:
        raise ValueError("gold is empty; allowed: at least one item")
    return sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold)


def cohen_kappa(a: Sequence[Any], b: Sequence[Any]) -> float:
    """kappa = (p_o - p_e) / (1 - p_e), p_e = sum_c p_a(c) p_b(c). When p_e == 1 (both raters
    always give the same single category) kappa is defined here as 1.0."""
    if len(a) != len(b):
        raise ValueError(f"len(a)={len(a)} != len(b)={len(b)}; allowed: equal lengths")
    if not a:
        raise ValueError("no items; allowed: at least one item")
    n = len(a)
    p_o = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    p_e = sum(ca[c] * cb[c] for c in ca) / (n * n)
    if p_e >= 1.0:
        return 1.0
    return (p_o - p_e) / (1.0 - p_e)


def confusion(gold: Sequence[Any], pred: Sequence[Any]) -> dict[str, dict[str, int]]:
    """``confusion[gold_label][predicted_label] = count``."""
    table: dict[str, dict[str, int]] = {}
    for g, p in zip(gold, pred, strict=True):
        row = table.setdefault(str(g), {})
        row[str(p)] = row.get(str(p), 0) + 1
    return table


def label_distribution(records: Sequence[dict[str, Any]]) -> dict[str, int]:
    return dict(Counter(answer_key(r.get("label")) for r in records))


@dataclass
class Prices:
    """USD per million tokens, per model; ``default`` for models not listed."""

    models: dict[str, tuple[float, float]] = field(default_factory=dict)
    default: tuple[float, float] = (0.0, 0.0)

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        price_in, price_out = self.models.get(model, self.default)
        return (prompt_tokens * price_in + completion_tokens * price_out) / 1e6

    @classmethod
    def load(cls, path: str | os.PathLike) -> Prices:
        """A YAML/JSON mapping ``model: {input: USD/1M, output: USD/1M}`` (``default`` key ok)."""
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
        if not isinstance(data, dict):
            raise ValueError(f"prices file {path}: allowed: a mapping model -> {{input, output}}")
        models = {}
        for model, entry in data.items():
            if not isinstance(entry, dict) or {"input", "output"} - set(entry):
                raise ValueError(f"prices file {path}: field {model!r} needs 'input' and 'output'")
            models[str(model)] = (float(entry["input"]), float(entry["output"]))
        default = models.pop("default", (0.0, 0.0))
        return cls(models, default)


def usage_summary(records: Sequence[dict[str, Any]], prices: Prices | None = None) -> dict:
    """Tokens and cost of the calls actually paid for (records not served from the cache)."""
    prices = prices or Prices()
    paid = [r for r in records if not r.get("cached")]
    prompt = sum(r.get("usage", {}).get("prompt_tokens", 0) for r in paid)
    completion = sum(r.get("usage", {}).get("completion_tokens", 0) for r in paid)
    cost = sum(
        prices.cost(
            r.get("model", ""),
            r.get("usage", {}).get("prompt_tokens", 0),
            r.get("usage", {}).get("completion_tokens", 0),
        )
        for r in paid
    )
    return {
        "paid_calls": len(paid),
        "cached": len(records) - len(paid),
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "cost_usd": cost,
    }


@dataclass
class EvalReport:
    n: int
    coverage: float  # fraction of items with a label
    accuracy: float | None
    kappa: float | None
    confusion: dict[str, dict[str, int]] | None
    distribution: dict[str, int]
    status: dict[str, int]
    usage: dict[str, Any]
    # AUROC of confidence for right vs wrong and accuracy at coverage (items with gold; an item
    # without a label or a confidence counts as confidence 0), when records carry confidence
    calibration: dict[str, Any] | None = None
    set_scores: dict[str, float] | None = None  # multi-label: micro precision, recall, F1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(
    records: Sequence[dict[str, Any]],
    gold: dict[str, str] | None = None,
    prices: Prices | None = None,
) -> EvalReport:
    """Scores of one run. ``gold`` maps id -> label; by default the records' own ``gold``."""
    if not records:
        raise ValueError("no records to evaluate")
    if gold is None:
        gold = {str(r["id"]): r["gold"] for r in records if r.get("gold") is not None}
    labelled = [r for r in records if r.get("label") is not None]
    scored = [r for r in records if str(r["id"]) in gold]
    acc = kappa = table = calibration = sets = None
    if scored:
        raw_gold = [gold[str(r["id"])] for r in scored]
        g = [answer_key(x) for x in raw_gold]
        p = [answer_key(r.get("label")) for r in scored]
        acc, kappa, table = accuracy(g, p), cohen_kappa(g, p), confusion(g, p)
        if any(isinstance(x, list) for x in raw_gold):  # multi-label: exact set + micro F1
            sets = set_scores(raw_gold, [r.get("label") for r in scored])
        if any(r.get("confidence") is not None for r in scored):
            scores = [float(r.get("confidence") or 0.0) for r in scored]
            right = [gi == pi for gi, pi in zip(g, p, strict=True)]
            calibration = {
                "n": len(scored),
                "auroc": auroc(scores, right),
                "accuracy_at_coverage": accuracy_at_coverage(scores, right),
                "sources": dict(Counter(r.get("confidence_source") for r in scored)),
            }
    return EvalReport(
        n=len(records),
        coverage=len(labelled) / len(records),
        accuracy=acc,
        kappa=kappa,
        confusion=table,
        distribution=label_distribution(records),
        status=dict(Counter(r.get("status", "?") for r in records)),
        usage=usage_summary(records, prices),
        calibration=calibration,
        set_scores=sets,
    )


def agreement(a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Raw agreement and kappa between two runs (e.g. two modes) on their common ids."""
    la = {str(r["id"]): answer_key(r.get("label")) for r in a}
    lb = {str(r["id"]): answer_key(r.get("label")) for r in b}
    common = sorted(set(la) & set(lb))
    if not common:
        raise ValueError("the two runs share no item ids")
    x, y = [la[i] for i in common], [lb[i] for i in common]
    return {"n": len(common), "agreement": accuracy(x, y), "kappa": cohen_kappa(x, y)}


def load_records(path: str | os.PathLike) -> list[dict[str, Any]]:
    from .store import read_jsonl

    return read_jsonl(path)


def dumps(report: EvalReport) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False)
