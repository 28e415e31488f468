"""The trace data model and the official CodeExecutor text format.

One executed line becomes ``<line> <k> <state> name : value <dictsep> ... </state>`` where ``k``
is the 0-based line number and the state holds the visible variables *after* the line ran.
Text printed by that line comes as one ``<output> text`` segment per printed line, placed just
*before* the line's ``<line>`` segment: the official metric drops a final segment that has no
``</state>``, so an output at the very end of a trace would never be scored.
Values are rendered as space-separated tokens, strings without quotes (official README style).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

STATUSES = (
    "ok",
    "error",
    "timeout",
    "step_limit",
    "memory_limit",
    "output_limit",
    "syntax_error",
)
LINE, STATE, END_STATE, DICTSEP, OUTPUT = "<line>", "<state>", "</state>", "<dictsep>", "<output>"
STRUCTURE_TOKENS = (STATE, END_STATE, DICTSEP, ":")  # loss weight 1 (official)
SPECIAL_TOKENS = (LINE, STATE, END_STATE, DICTSEP, OUTPUT)
_SEGMENT = re.compile(r"(<line>|<output>)")
_LINE_NO = re.compile(r"^<(\d+)>$")


@dataclass
class Step:
    """One executed line: 0-based ``line``, variables after it, lines it printed."""

    line: int
    state: dict[str, str]
    output: list[str] = field(default_factory=list)


@dataclass
class Trace:
    """The result of running one program in the sandbox.

    ``status`` is one of :data:`STATUSES`; ``error`` is ``"ExcType: message"`` for status
    ``error``/``syntax_error``; ``stdout`` is everything printed (bounded).
    """

    status: str
    steps: list[Step] = field(default_factory=list)
    stdout: str = ""
    error: str | None = None
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_text(self) -> str:
        """The trace in the official format (see :func:`serialize_trace`)."""
        return serialize_trace(self.steps)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trace:
        steps = [s if isinstance(s, Step) else Step(**s) for s in data.get("steps", [])]
        return cls(
            status=data["status"],
            steps=steps,
            stdout=data.get("stdout", ""),
            error=data.get("error"),
            duration_s=float(data.get("duration_s", 0.0)),
        )


def serialize_step(step: Step) -> str:
    state = f" {DICTSEP} ".join(f"{k} : {v}" for k, v in step.state.items())
    body = f"{STATE} {state} {END_STATE}" if state else f"{STATE} {END_STATE}"
    parts = [f"{OUTPUT} {text}" for text in step.output]
    parts.append(f"{LINE} <{step.line}> {body}")
    return " ".join(parts)


def serialize_trace(steps: list[Step]) -> str:
    """``<line> <k> <state> a : 1 <dictsep> b : [ 1 , 2 ] </state> <output> 3 <line> ...``."""
    return " ".join(serialize_step(s) for s in steps)


def serialize_state(state: dict[str, str]) -> str:
    """A SingleLine target: just ``<state> ... </state>`` (official SingleLine format)."""
    inner = f" {DICTSEP} ".join(f"{k} : {v}" for k, v in state.items())
    return f"{STATE} {inner} {END_STATE}" if inner else f"{STATE} {END_STATE}"


def parse_state(text: str) -> dict[str, str]:
    """Parse ``<state> k : v <dictsep> ... </state>``; keys and values split on the first ':'."""
    text = text.strip()
    if not text.startswith(STATE) or not text.endswith(END_STATE):
        raise ValueError(f"state={text[:60]!r} is invalid; allowed: '<state> ... </state>'")
    inner = text[len(STATE) : -len(END_STATE)].strip()
    state: dict[str, str] = {}
    if not inner:
        return state
    for item in inner.split(DICTSEP):
        if ":" not in item:
            raise ValueError(f"state item {item.strip()!r} is invalid; allowed: 'name : value'")
        key, value = item.split(":", 1)
        state[key.strip()] = value.strip()
    return state


def parse_trace(text: str) -> list[Step]:
    """Parse the official format back into steps (inverse of :func:`serialize_trace`)."""
    steps: list[Step] = []
    outputs: list[str] = []
    pieces = [p for p in _SEGMENT.split(text.strip()) if p.strip()]
    i = 0
    while i < len(pieces):
        marker = pieces[i]
        body = pieces[i + 1].strip() if i + 1 < len(pieces) else ""
        if marker == OUTPUT:
            outputs.append(body)
        elif marker == LINE:
            number, _, rest = body.partition(" ")
            match = _LINE_NO.match(number)
            if not match:
                raise ValueError(f"line number {number!r} is invalid; allowed: '<k>'")
            steps.append(Step(int(match.group(1)), parse_state(rest), outputs))
            outputs = []
        else:
            raise ValueError(f"trace is invalid at {marker[:40]!r}; allowed: <line> or <output>")
        i += 2
    if outputs:
        raise ValueError("trace is invalid: <output> segments after the last <line>")
    return steps
