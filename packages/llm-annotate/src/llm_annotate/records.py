"""One item's result record: the parsed label (or the reason there is none), the raw answer,
the confidence and its source, votes (self-consistency), usage and cache provenance."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from .backends import Generation
from .confidence import label_confidence, stated_confidence
from .parsing import parse_label

if TYPE_CHECKING:
    from .store import ResultsWriter

# ``annotator`` below is an ``annotate.Annotator`` (not imported: records must not depend on it)


def vote_key(label: Any) -> str:
    """A hashable, order-free key of an answer (a label, a label list, an object)."""
    return label if isinstance(label, str) else json.dumps(label, sort_keys=True)


def make_record(
    item: dict[str, Any], gen: Generation, cached: bool, key: str, annotator: Any
) -> dict[str, Any]:
    """The JSONL record of one item: label (or why none), raw answer, confidence, usage."""
    record: dict[str, Any] = {
        "id": item["__id"],
        "prompt_hash": key[:16],
        "mode": annotator.config.mode,
        "template": annotator.template.name,
        "model": annotator.backend.model,
    }
    gold = item.get(annotator.task.label_field)
    if gold is not None:
        record["gold"] = annotator.task.canonical(gold)
    if not gen.ok:
        record.update(status="failed", label=None, reason=gen.error, raw=None)
    else:
        cues = [annotator.template.cot_cue]
        parsed = [
            parse_label(c.text, annotator.task, cues, c.finish_reason) for c in gen.completions
        ]
        raws = [c.text for c in gen.completions]
        votes = Counter(vote_key(p.label) for p in parsed if p.ok)
        if annotator.config.mode == "self_consistency":
            record["votes"] = dict(votes)
            record["raw"] = raws
            if votes:
                top = max(votes.values())
                # tie: the label whose first vote came first
                label = next(p.label for p in parsed if p.ok and votes[vote_key(p.label)] == top)
                record.update(status="ok", label=label, confidence=top / len(parsed))
                record["confidence_source"] = "votes"
            else:
                reasons = sorted({p.reason for p in parsed})
                record.update(status="unparseable", label=None, reason="; ".join(reasons))
        else:
            p = parsed[0]
            record["raw"] = raws[0]
            if p.explanation and annotator._needs_explanations():
                record["explanation"] = p.explanation
            record.update(status="ok" if p.ok else "unparseable", label=p.label)
            if not p.ok:
                record["reason"] = p.reason
            if gen.completions[0].logprob is not None:
                record["logprob"] = gen.completions[0].logprob
            confidence = label_confidence(gen.completions[0], p.span) if p.ok else None
            if confidence is not None:
                record.update(confidence=confidence, confidence_source="logprob")
    if annotator.config.ask_confidence and record.get("label") is not None:
        stated = [stated_confidence(c.text) for c in gen.completions]
        stated = [x for x in stated if x is not None]
        if stated:
            record["stated_confidence"] = sum(stated) / len(stated)
            if "confidence" not in record:
                record.update(
                    confidence=record["stated_confidence"], confidence_source="verbalised"
                )
    record["usage"] = asdict(gen.usage)
    record["cached"] = cached
    record["attempts"] = 0 if cached else gen.attempts
    return record


def breaker_message(annotator: Any, record: dict, writer: ResultsWriter) -> str:
    """Why the circuit breaker stopped the run, and how to resume."""
    limit = annotator.config.max_consecutive_failures
    what = f"{record['status']}: {record.get('reason')}"
    if record["status"] == "unparseable":
        raw = record.get("raw")
        raw = raw if isinstance(raw, str) or raw is None else raw[0]
        shown = [annotator.task.shown(label) for label in annotator.task.labels]
        what += (
            f", raw answer {(raw or '')[:80]!r}; none of the answers contains a label "
            f"{shown}: check the task's labels and the prompt (--dry-run)"
        )
    return (
        f"stopped after {limit} consecutive items without a label (last: {what}); "
        f"{len(writer.done)} records are kept in {writer.path}: fix the cause and rerun the "
        "same command to resume"
    )


def swap_pair(task: Any, item: dict[str, Any]) -> dict[str, Any]:
    """The item with its two input fields' values exchanged (pairwise tasks)."""
    first, second = list(task.input_fields)
    return {**item, first: item[second], second: item[first]}


def combine_pair(given: dict[str, Any], swapped: dict[str, Any]) -> dict[str, Any]:
    """One record from a pair asked in both orders: the label only when both orders agree.

    Disagreement is ``unparseable`` with an "order-dependent" reason (a position bias, not an
    answer); confidence is the lower of the two."""
    record = dict(given)
    record["raw"] = [given.get("raw"), swapped.get("raw")]
    record["swapped"] = {k: swapped.get(k) for k in ("status", "label", "reason", "confidence")}
    usage = [given.get("usage") or {}, swapped.get("usage") or {}]
    record["usage"] = {k: sum(u.get(k, 0) for u in usage) for k in set(usage[0]) | set(usage[1])}
    record["cached"] = bool(given.get("cached") and swapped.get("cached"))
    record["attempts"] = given.get("attempts", 0) + swapped.get("attempts", 0)
    statuses = {given["status"], swapped["status"]}
    if statuses == {"ok"}:
        if vote_key(given["label"]) == vote_key(swapped["label"]):
            record["order_consistent"] = True
            scores = [r.get("confidence") for r in (given, swapped)]
            if None not in scores:
                record["confidence"] = min(scores)
            return record
        record.update(
            status="unparseable",
            label=None,
            order_consistent=False,
            reason=f"order-dependent answer: {given['label']!r} as given, "
            f"{swapped['label']!r} with the two inputs swapped",
        )
    else:
        bad = [r for r in (given, swapped) if r["status"] != "ok"]
        worst = next((r for r in bad if r["status"] == "failed"), bad[0])
        record.update(status=worst["status"], label=None, reason=worst.get("reason"))
    record.pop("confidence", None)
    record.pop("confidence_source", None)
    return record
