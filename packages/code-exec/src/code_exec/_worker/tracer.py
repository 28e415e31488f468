"""Run (and trace) the program under the step, time and output limits.

Steps are recorded when a line *completes* (its state is the state after the line), so a
callee's lines come before the line that called it: ``x = f(1)`` yields ``f``'s body first,
then the assignment with ``x`` set. This is the order the package documents (README, "Trace
format"); reorder by the tracer's event counter if you need start order.
"""

import builtins
import io
import sys
import time

from .render import visible_state

PROG = "<prog>"
MAX_FAILED_STEPS = 1000
CO_NEWLOCALS = 0x0002  # set on function code, absent on module and class bodies


class LimitExceeded(BaseException):
    """Raised inside the traced program when a limit is hit (BaseException: hard to swallow)."""


class Output(io.TextIOBase):
    """Captures the program's stdout, bounded by ``max_bytes``."""

    def __init__(self, max_bytes, flags):
        self.parts, self.pending, self.size = [], [], 0
        self.max_bytes, self.flags = max_bytes, flags

    def writable(self):
        return True

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str")
        if self.flags.get("status"):
            raise LimitExceeded(self.flags["status"])
        self.size += len(s.encode("utf-8", "replace"))
        if self.size > self.max_bytes:
            self.flags["status"] = "output_limit"
            raise LimitExceeded("output_limit")
        self.parts.append(s)
        self.pending.append(s)
        return len(s)

    def take_pending(self):
        text = "".join(self.pending)
        self.pending = []
        return [line for line in text.split("\n") if line.strip()]


def _is_class_header(frame):
    """The class body's own event on the ``class`` line (the module already records it)."""
    code = frame.f_code
    if code.co_flags & CO_NEWLOCALS or code.co_name == "<module>":
        return False
    caller = frame.f_back
    return caller is not None and caller.f_lineno == frame.f_lineno


def compile_program(source, job):
    """``(code, None)`` or ``(None, result)`` for a program that does not compile."""
    try:
        return compile(source, PROG, "exec", dont_inherit=True), None
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        msg = f"SyntaxError: {getattr(exc, 'msg', exc)}" + (f" (line {line})" if line else "")
        return None, {"status": "syntax_error", "steps": [], "stdout": "", "error": msg}
    except MemoryError:
        msg = (f"compiling {len(source):,} characters of source needs more than "
               f"max_memory_mb={job['max_memory_mb']}; raise max_memory_mb")  # fmt: skip
        return None, {"status": "memory_limit", "steps": [], "stdout": "", "error": msg}
    except RecursionError:
        msg = "RecursionError: the source is nested too deeply to compile"
        return None, {"status": "error", "steps": [], "stdout": "", "error": msg}


def run_program(source, job):
    """Run ``source`` (traced unless job['trace'] is false); return the result dict."""
    flags = {"status": None}
    steps = []
    out = Output(job["max_output_bytes"], flags)
    max_steps, do_trace = job["max_steps"], job.get("trace", True)
    deadline = time.monotonic() + job["timeout_s"]
    pending = {}
    counter = [0]

    def record(frame, line):
        steps.append([line - 1, visible_state(frame), out.take_pending()])

    def local(frame, event, arg):
        if flags["status"]:
            raise LimitExceeded(flags["status"])
        if event == "line":
            prev = pending.get(frame)
            if prev is not None:
                record(frame, prev)
            elif _is_class_header(frame):
                return local
            pending[frame] = frame.f_lineno
            counter[0] += 1
            if counter[0] > max_steps:
                flags["status"] = "step_limit"
                raise LimitExceeded("step_limit")
            if time.monotonic() > deadline:
                flags["status"] = "timeout"
                raise LimitExceeded("timeout")
        elif event == "return":
            prev = pending.pop(frame, None)
            if prev is not None:
                record(frame, prev)
        return local

    def tracer(frame, event, arg):
        code = frame.f_code
        if code.co_filename != PROG:
            return None
        if code.co_name.startswith("<") and code.co_name != "<module>":
            return None  # comprehensions and lambdas are part of their line
        return local

    def watchdog(frame, event, arg):  # untraced mode: only the limits
        if flags["status"]:
            raise LimitExceeded(flags["status"])
        if frame.f_code.co_filename != PROG:
            return None
        counter[0] += 1
        if time.monotonic() > deadline:
            flags["status"] = "timeout"
            raise LimitExceeded("timeout")
        return None

    status, error = "ok", None
    started = time.monotonic()
    code, failed = compile_program(source, job)
    if failed is not None:
        return failed
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    sys.stdout = sys.__stdout__ = out
    sys.stdin = sys.__stdin__ = io.StringIO(job.get("stdin") or "")
    sys.settrace(tracer if do_trace else watchdog)
    try:
        exec(code, namespace)
    except LimitExceeded:
        pass
    except SystemExit as exc:
        if exc.code not in (None, 0):
            status, error = "error", f"SystemExit: {exc.code}"
    except MemoryError:
        flags["status"] = flags["status"] or "memory_limit"
    except RecursionError as exc:
        status, error = "error", f"RecursionError: {exc}"
    except BaseException as exc:
        status, error = "error", f"{type(exc).__name__}: {exc}"
    finally:
        sys.settrace(None)
    if flags["status"]:
        status, error = flags["status"], None
    if status != "ok" and len(steps) > MAX_FAILED_STEPS:
        del steps[MAX_FAILED_STEPS:]  # a failed run keeps only its first steps (bounded result)
    tail = out.take_pending()
    if tail and steps:
        steps[-1][2].extend(tail)
    return {
        "status": status,
        "steps": steps,
        "stdout": "".join(out.parts),
        "error": error,
        "num_events": counter[0],
        "duration_s": time.monotonic() - started,
    }
