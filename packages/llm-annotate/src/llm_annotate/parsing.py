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

import re
from collections.abc import Sequence
from dataclasses import dataclass

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
    label: str | None
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
    """Extract one of ``task``'s labels from ``text`` (see module doc)."""
    if text is None or not text.strip():
        return ParseResult(None, "empty answer")
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
