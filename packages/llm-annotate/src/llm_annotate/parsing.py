"""Robust label extraction from free text.

Order of evidence, strongest first:
1. the text after the last answer cue ("So the answer is", "answer:", "label:" ...): the
   first verbaliser found there (longest verbaliser wins at the same position);
2. a verbaliser at the very start of the answer (plain few-shot answers such as " relevant.");
3. exactly one label mentioned anywhere in the answer.
Anything else is *unparseable* with a reason (empty, truncated, ambiguous, no label) and the raw
text is kept: never a crash, never a silent default.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .schema import validate
from .task import TaskSpec

GENERIC_CUES = (
    "the answer is",
    "answer is",
    "the label is",
    "label is",
    "answer:",
    "label:",
    "verdict:",
)


@dataclass
class ParseResult:
    label: Any  # a label; a sorted list of labels (multi_label); an object (extraction); None
    reason: str | None = None  # why label is None: "empty", "truncated", "ambiguous", "no label"
    explanation: str | None = None  # text before the answer cue (CoT rationale), when present
    span: tuple[int, int] | None = None  # where the label's verbaliser is in the text

    @property
    def ok(self) -> bool:
        return self.label is not None


def _verbaliser_pattern(task: TaskSpec) -> tuple[re.Pattern, dict[str, str]]:
    owner = {}
    for label, verbalisers in task.labels.items():
        for v in verbalisers:
            owner[v.strip().lower()] = label
    alternatives = sorted(
        owner, key=len, reverse=True
    )  # longest first: "not relevant" > "relevant"
    body = "|".join(re.escape(a) for a in alternatives)
    return re.compile(rf"(?<![\w-])(?:{body})(?![\w-])", re.IGNORECASE), owner


def _last_cue(text: str, cues: Sequence[str]) -> tuple[int, int] | None:
    """(start, end) of the cue occurrence that ends last (the longest one on a tie)."""
    lower = text.lower()
    best = None
    for cue in cues:
        pos = lower.rfind(cue.lower())
        if pos == -1:
            continue
        span = (pos, pos + len(cue))
        if best is None or span[1] > best[1] or (span[1] == best[1] and span[0] < best[0]):
            best = span
    return best


def parse_label(
    text: str | None,
    task: TaskSpec,
    cues: Sequence[str] = (),
    finish_reason: str | None = None,
) -> ParseResult:
    """Extract one of ``task``'s labels from ``text`` (see module doc); for the other task
    kinds, a set of labels (``multi_label``) or a JSON object valid under the task's schema
    (``extraction``)."""
    if text is None or not text.strip():
        return ParseResult(None, "empty answer")
    if task.kind == "multi_label":
        return _parse_labels(text, task, cues, finish_reason)
    if task.kind == "extraction":
        return _parse_object(text, task, cues, finish_reason)
    pattern, owner = _verbaliser_pattern(task)
    all_cues = [c for c in cues if c] + list(GENERIC_CUES)
    cue = _last_cue(text, all_cues)
    if cue is not None:
        tail = text[cue[1] :].lstrip(" \t:*\"'`")
        offset = len(text) - len(tail)
        match = pattern.search(tail[:200])
        explanation = text[: cue[0]].strip() or None
        if match:
            span = (offset + match.start(), offset + match.end())
            return ParseResult(owner[match.group(0).lower()], None, explanation, span)
    stripped = text.rstrip().lstrip().lstrip("*\"'`([").lstrip()
    offset = len(text.rstrip()) - len(stripped)
    match = pattern.match(stripped)
    if match:
        span = (offset + match.start(), offset + match.end())
        return ParseResult(owner[match.group(0).lower()], span=span)
    matches = list(pattern.finditer(text))
    mentioned = {owner[m.group(0).lower()] for m in matches}
    if len(mentioned) == 1:
        return ParseResult(mentioned.pop(), None, text.strip(), matches[-1].span())
    if finish_reason == "length":
        return ParseResult(None, "truncated answer (max_tokens reached) without a label")
    if len(mentioned) > 1:
        return ParseResult(None, f"ambiguous: mentions {sorted(mentioned)}")
    return ParseResult(None, "no label found in the answer")


def _after_cue(text: str, cues: Sequence[str]) -> tuple[str, str | None]:
    """(the answer part, the explanation before the cue or None)."""
    cue = _last_cue(text, [c for c in cues if c] + list(GENERIC_CUES))
    if cue is None:
        return text, None
    return text[cue[1] :].lstrip(" \t:*\"'`"), text[: cue[0]].strip() or None


def _parse_labels(text: str, task: TaskSpec, cues, finish_reason) -> ParseResult:
    """Every label named in the answer part; "none" is the valid empty set."""
    answer, explanation = _after_cue(text, cues)
    answer = answer.strip().split("\n\n", 1)[0][:300]
    pattern, owner = _verbaliser_pattern(task)
    found = sorted({owner[m.group(0).lower()] for m in pattern.finditer(answer)})
    if found or re.search(r"(?<![\w-])none(?![\w-])", answer, re.IGNORECASE):
        return ParseResult(found, None, explanation)
    if finish_reason == "length":
        return ParseResult(None, "truncated answer (max_tokens reached) without a label")
    return ParseResult(None, "no label (and not 'none') found in the answer")


def _parse_object(text: str, task: TaskSpec, cues, finish_reason) -> ParseResult:
    """The first JSON object in the answer part, checked against the task's schema."""
    answer, explanation = _after_cue(text, cues)
    decoder = json.JSONDecoder()
    value, start = None, answer.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(answer[start:])
            break
        except json.JSONDecodeError:
            start = answer.find("{", start + 1)
    if not isinstance(value, dict):
        if finish_reason == "length":
            return ParseResult(None, "truncated answer (max_tokens reached) without a JSON object")
        return ParseResult(None, "no JSON object found in the answer")
    problem = validate(value, task.schema or {})
    if problem:
        return ParseResult(None, f"invalid against the task's schema: {problem}", explanation)
    return ParseResult(value, None, explanation)
