"""Trace metrics with the semantics of the official ``inference/metric.py``.

Traces are split into segments at every ``<line>`` and ``<output>`` marker (plus the text
start); a final segment without ``</state>`` is dropped. Segments are aligned by position.
Deviation (flagged): where the official code divides by zero (no gold outputs, no predicted
segments), we return 0.0 instead of raising; ``strict_official=True`` restores the exception.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from lmlab_common import require

_MARKERS = ("<line>", "<output>")


def _segments(text: str) -> list[str]:
    cuts = {0, len(text)}
    for marker in _MARKERS:
        start = text.find(marker)
        while start != -1:
            cuts.add(start)
            start = text.find(marker, start + 1)
    cuts = sorted(cuts)
    out = []
    for i in range(1, len(cuts)):
        piece = text[cuts[i - 1] : cuts[i]]
        if i == len(cuts) - 1 and "</state>" not in piece:
            continue  # the last, incomplete segment
        out.append(piece)
    return out


def trace_outputs(text: str) -> list[str]:
    """The printed values of a trace (``<output>`` segments, cut at ``_____event``)."""
    outputs = []
    for piece in _segments(text):
        if "<output>" in piece:
            value = piece[len("<output> ") :].strip()
            if "_____event" in value:
                value = value[: value.find("_____event")].strip()
            if value:
                outputs.append(value)
    return outputs


def _line_and_state(segment: str) -> tuple[str, dict[str, str]]:
    """Line-number text and the ``name -> value`` dict (split on the first ':')."""
    at = segment.find("<state>")  # -1 when absent: the official slicing is kept as is
    line_info = segment[0:at].strip()
    body = segment[at:].strip()
    if body.startswith("<state>"):
        body = body[len("<state>") :]
    if body.endswith("</state>"):
        body = body[: -len("</state>")]
    state = {}
    for item in body.split("<dictsep>"):
        if ":" in item:
            key, value = item.split(":", 1)
            state[key.strip()] = value.strip()
    return line_info, state


def _same_segment(pred: str, gold: str) -> tuple[bool, int]:
    """(segments equal, number of identifiers with equal values when the line numbers match)."""
    if "<output>" in pred or "<output>" in gold:
        return pred == gold, 0
    if "<state>" not in pred or "<state>" not in gold:
        return pred == gold, 0
    pred_line, pred_state = _line_and_state(pred)
    gold_line, gold_state = _line_and_state(gold)
    if pred_line != gold_line:
        return False, 0
    correct = sum(
        1 for k in pred_state.keys() & gold_state.keys() if pred_state[k] == gold_state[k]
    )
    return pred_state == gold_state, correct


@dataclass
class TraceMetrics:
    """Percentages rounded to 2 decimals, in the official logging order."""

    output_acc: float
    trace_acc: float
    line_precision: float
    line_recall: float
    line_f1: float
    id_precision: float
    id_recall: float
    id_f1: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def _ratio(num: float, den: float, strict: bool) -> float:
    if den == 0:
        if strict:
            raise ZeroDivisionError("metric denominator is zero (official behaviour)")
        return 0.0
    return num / den


def _f1(p: float, r: float, strict: bool) -> float:
    return _ratio(2 * p * r, p + r, strict)


def compute_metrics(
    preds: list[str], golds: list[str], strict_official: bool = False
) -> TraceMetrics:
    """Output accuracy, trace exact match, line and identifier micro P/R/F1 (Tutorial and
    CodeNetMut metrics)."""
    require(len(preds) == len(golds), "preds", len(preds), f"{len(golds)} items (= golds)")
    require(len(golds) > 0, "golds", 0, "at least one trace")
    exact = with_output = output_same = 0
    right = n_pred = n_gold = right_id = n_pred_id = n_gold_id = 0
    for pred, gold in zip(preds, golds, strict=True):
        pred, gold = pred.strip(), gold.strip()
        gold_out, pred_out = trace_outputs(gold), trace_outputs(pred)
        with_output += bool(gold_out)
        output_same += bool(gold_out) and gold_out == pred_out
        pred_segs, gold_segs = _segments(pred), _segments(gold)
        same = correct_ids = 0
        for i, gold_seg in enumerate(gold_segs):
            if i < len(pred_segs):
                equal, ids = _same_segment(pred_segs[i], gold_seg)
                same += equal
                correct_ids += ids
        right, n_pred, n_gold = right + same, n_pred + len(pred_segs), n_gold + len(gold_segs)
        right_id += correct_ids
        n_pred_id += sum(len(_line_and_state(s)[1]) for s in pred_segs)
        n_gold_id += sum(len(_line_and_state(s)[1]) for s in gold_segs)
        exact += same == len(gold_segs) and len(pred_segs) == len(gold_segs)
    strict = strict_official
    line_p, line_r = _ratio(right, n_pred, strict), _ratio(right, n_gold, strict)
    id_p, id_r = _ratio(right_id, n_pred_id, strict), _ratio(right_id, n_gold_id, strict)
    values = [
        _ratio(output_same, with_output, strict),
        exact / len(golds),
        line_p,
        line_r,
        _f1(line_p, line_r, strict),
        id_p,
        id_r,
        _f1(id_p, id_r, strict),
    ]
    return TraceMetrics(*[round(100 * v, 2) for v in values])


@dataclass
class SingleLineMetrics:
    trace_acc: float
    id_precision: float
    id_recall: float
    id_f1: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def _singleline_state(text: str) -> dict[str, str]:
    text = text.strip()
    if text.startswith("<state>"):
        text = text[len("<state>") :]
    if text.endswith("</state>"):
        text = text[: -len("</state>")]
    state = {}
    for item in text.split("<dictsep>"):
        if ":" in item:
            parts = item.split(":")  # official: value is cut at a second ':'
            state[parts[0].strip()] = parts[1].strip()
    return state


def compute_singleline_metrics(
    preds: list[str], golds: list[str], strict_official: bool = False
) -> SingleLineMetrics:
    """SingleLine metrics: state-dict exact match and identifier micro P/R/F1."""
    require(len(preds) == len(golds), "preds", len(preds), f"{len(golds)} items (= golds)")
    require(len(golds) > 0, "golds", 0, "at least one trace")
    exact = right = n_pred = n_gold = 0
    for pred, gold in zip(preds, golds, strict=True):
        p, g = _singleline_state(pred), _singleline_state(gold)
        right += sum(1 for k in p.keys() & g.keys() if p[k] == g[k])
        n_pred, n_gold = n_pred + len(p), n_gold + len(g)
        exact += p == g
    strict = strict_official
    prec, rec = _ratio(right, n_pred, strict), _ratio(right, n_gold, strict)
    values = [exact / len(golds), prec, rec, _f1(prec, rec, strict)]
    return SingleLineMetrics(*[round(100 * v, 2) for v in values])
