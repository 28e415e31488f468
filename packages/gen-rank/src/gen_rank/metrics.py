"""Task metrics as plain callables ``metric(candidates, references) -> list[float]``.

JGR uses the metric twice: to pick the ranker's positive among sampled candidates and as half
of the generator's reward. Any callable with that signature works; :func:`check_scores`
validates what it returns. ROUGE comes from ``rouge-score`` and BLEU from ``sacrebleu``; the
official combined scores are :func:`summarization_score` (R1/0.45 + R2/0.2 + RLsum/0.4) and
:func:`dialog_bleu_score` (BLEU-1/0.5 + BLEU-2/0.4, without the distinct-n terms).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

Metric = Callable[[Sequence[str], Sequence[str]], Sequence[float]]


def check_references(references: Sequence[str]) -> None:
    """Raise ``ValueError`` on an empty reference list or an empty / whitespace reference."""
    if len(references) == 0:
        raise ValueError("references=[] is invalid; allowed: at least one reference")
    for i, ref in enumerate(references):
        if not isinstance(ref, str) or not ref.strip():
            raise ValueError(
                f"references[{i}]={ref!r} is invalid; allowed: a non-empty string "
                "(JGR scores every candidate against its reference)"
            )


def check_scores(scores: Sequence[float], expected: int, name: str = "metric") -> list[float]:
    """Floats of ``scores``; ``ValueError`` on a wrong count or a non-finite value."""
    values = [float(s) for s in scores]
    if len(values) != expected:
        raise ValueError(
            f"{name} returned {len(values)} scores; allowed: one per candidate ({expected})"
        )
    bad = [v for v in values if not math.isfinite(v)]
    if bad:
        raise ValueError(f"{name} returned non-finite scores {bad[:3]}; allowed: finite floats")
    return values


def score_candidates(
    metric: Metric, candidates: Sequence[str], references: Sequence[str]
) -> list[float]:
    """Run ``metric`` with validation of its inputs and outputs."""
    check_references(references)
    if len(candidates) != len(references):
        raise ValueError(
            f"candidates has {len(candidates)} items; allowed: one per reference "
            f"({len(references)})"
        )
    name = getattr(metric, "__name__", type(metric).__name__)
    return check_scores(metric(candidates, references), len(candidates), name)


def rouge_scores(
    candidates: Sequence[str], references: Sequence[str], keys: Sequence[str] = ("rouge1",)
) -> list[dict[str, float]]:
    """Per-pair ROUGE F-measures from ``rouge-score`` (with the Porter stemmer, as JGR)."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(list(keys), use_stemmer=True)
    out = []
    for cand, ref in zip(candidates, references, strict=True):
        scores = scorer.score(ref, cand)
        out.append({k: scores[k].fmeasure for k in keys})
    return out


def summarization_score(candidates: Sequence[str], references: Sequence[str]) -> list[float]:
    """The official summarization metric: R1/0.45 + R2/0.2 + RLsum/0.4 (F-measures)."""
    rows = rouge_scores(candidates, references, ("rouge1", "rouge2", "rougeLsum"))
    return [r["rouge1"] / 0.45 + r["rouge2"] / 0.2 + r["rougeLsum"] / 0.4 for r in rows]


def rouge_l(candidates: Sequence[str], references: Sequence[str]) -> list[float]:
    """ROUGE-L F-measure per pair."""
    return [r["rougeL"] for r in rouge_scores(candidates, references, ("rougeL",))]


def bleu(candidates: Sequence[str], references: Sequence[str], max_order: int = 4) -> list[float]:
    """Sentence BLEU-``max_order`` per pair from ``sacrebleu``, as a fraction in [0, 1]."""
    from sacrebleu.metrics import BLEU

    scorer = BLEU(max_ngram_order=max_order, effective_order=True)
    return [
        scorer.sentence_score(c, [r]).score / 100.0
        for c, r in zip(candidates, references, strict=True)
    ]


def dialog_bleu_score(candidates: Sequence[str], references: Sequence[str]) -> list[float]:
    """The official dialog metric's BLEU part: BLEU-1/0.5 + BLEU-2/0.4."""
    b1 = bleu(candidates, references, 1)
    b2 = bleu(candidates, references, 2)
    return [a / 0.5 + b / 0.4 for a, b in zip(b1, b2, strict=True)]


METRICS: dict[str, Metric] = {
    "summarization": summarization_score,
    "rougeL": rouge_l,
    "bleu": bleu,
    "dialog": dialog_bleu_score,
}


def get_metric(name: str) -> Metric:
    """A metric by name: ``summarization``, ``rougeL``, ``bleu``, ``dialog``, ``chain``."""
    if name == "chain":
        from .synthetic import chain_metric

        return chain_metric
    if name not in METRICS:
        allowed = ", ".join(repr(k) for k in [*METRICS, "chain"])
        raise ValueError(f"metric={name!r} is invalid; allowed: one of {allowed}")
    return METRICS[name]
