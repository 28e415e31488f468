"""Judge fills by execution: every filled program runs in code-exec's sandbox (never in this
process) and its printed output and final variable state are compared with the original's."""

from __future__ import annotations

import dataclasses

from code_exec import Sandbox, Trace

from .data import InfillTask

# Outcome of one fill; everything but "match" is a failure class.
OUTCOMES = ("match", "wrong_output", "syntax_error", "runtime_error", "timeout", "resource_limit")
OUTCOME_LABELS = {
    "match": "execution match",
    "wrong_output": "wrong output / state",
    "syntax_error": "syntax error",
    "runtime_error": "runtime error",
    "timeout": "timeout",
    "resource_limit": "memory / output limit",
}
_STATUS_OUTCOME = {
    "syntax_error": "syntax_error",
    "error": "runtime_error",
    "timeout": "timeout",
    "step_limit": "timeout",  # did not finish within the step budget: treated as not terminating
    "memory_limit": "resource_limit",
    "output_limit": "resource_limit",
}


@dataclasses.dataclass
class Verdict:
    """How one filled program behaved in the sandbox compared with the original."""

    exact_match: bool  # the fill equals the removed text
    execution_match: bool  # ran ok, same printed output and same final variable state
    runs: bool  # sandbox status "ok"
    outcome: str  # one of OUTCOMES
    status: str  # the sandbox status (code_exec.STATUSES)
    error: str | None
    same_stdout: bool
    same_state: bool
    sandbox_seconds: float  # the sandbox's own run time: proof the program ran there

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def verdict(task: InfillTask, middle: str, trace: Trace) -> Verdict:
    """Compare the sandbox ``trace`` of ``task`` filled with ``middle`` with the original's."""
    state = dict(trace.steps[-1].state) if trace.steps else {}
    same_stdout = trace.status == "ok" and trace.stdout == task.ref_stdout
    same_state = trace.status == "ok" and state == task.ref_state
    match = same_stdout and same_state
    outcome = "match" if match else _STATUS_OUTCOME.get(trace.status, "wrong_output")
    return Verdict(
        exact_match=middle == task.middle,
        execution_match=match,
        runs=trace.status == "ok",
        outcome=outcome,
        status=trace.status,
        error=trace.error,
        same_stdout=same_stdout,
        same_state=same_state,
        sandbox_seconds=float(trace.duration_s),
    )


def judge(box: Sandbox, tasks: list[InfillTask], middles: list[str]) -> list[Verdict]:
    """Run every filled program in ``box`` (one parallel batch) and judge it."""
    if len(tasks) != len(middles):
        raise ValueError(f"middles={len(middles)} items is invalid; allowed: {len(tasks)} items")
    programs = [task.filled(middle) for task, middle in zip(tasks, middles, strict=True)]
    traces = box.map(programs, show_progress=False)
    return [verdict(t, m, tr) for t, m, tr in zip(tasks, middles, traces, strict=True)]
