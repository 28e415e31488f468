"""Sandbox worker process (standard library only; never imported by the caller's process).

Started by :mod:`code_exec.sandbox` as ``python -I -B _worker.py '<json options>'``, optionally
as pid 1 of fresh pid/net/mount namespaces (``unshare``). It is a *zygote*: it reads one JSON
job per line on stdin and, for each job, forks a child that applies the limits, drops
privileges, installs the in-child guards and runs (and traces) the untrusted program. The
child writes its result as JSON to a private pipe; the zygote enforces the wall-clock limit,
kills the job's whole process group plus every stray process, removes the job's temp dir and
writes one JSON result line on stdout. The zygote itself never runs untrusted code.
"""

import builtins
import contextlib
import io
import json
import math
import os
import posix
import resource
import select
import shutil
import signal
import sys
import tempfile
import time

PROG = "<prog>"
GRACE_S = 0.5  # wall-clock slack after timeout_s before the zygote kills the job
MAX_VALUE_CHARS = 200  # a rendered value is cut here (the model sees bounded values)
MAX_RESULT_BYTES = 64 << 20
MAX_FAILED_STEPS = 1000
# Modules the program may not import: process spawning, raw syscalls, networking.
BLOCKED_MODULES = frozenset(
    [
        "ctypes",
        "_ctypes",
        "subprocess",
        "_posixsubprocess",
        "multiprocessing",
        "_multiprocessing",
        "socket",
        "_socket",
        "ssl",
        "_ssl",
        "pty",
        "fcntl",
        "mmap",
        "resource",
        "asyncio",
        "concurrent",
        "selectors",
        "select",
        "_signal",
        "faulthandler",
        "shutil",
    ]
)
# Modules imported up front so a child running as an unprivileged uid (which may be unable to
# read the interpreter's directory) can still import them.
PRELOAD = [
    "math",
    "cmath",
    "random",
    "collections",
    "itertools",
    "functools",
    "string",
    "re",
    "heapq",
    "bisect",
    "copy",
    "operator",
    "statistics",
    "fractions",
    "decimal",
    "datetime",
    "typing",
    "dataclasses",
    "enum",
    "array",
    "textwrap",
    "threading",
    "queue",
    "json",
    "time",
]


class LimitExceeded(BaseException):
    """Raised inside the traced program when a limit is hit (BaseException: hard to swallow)."""


# ----------------------------------------------------------------------------- rendering
def render(value, depth=0):
    """Render a value as space-separated tokens in the official trace style (no quotes)."""
    try:
        text = _render(value, depth)
    except Exception:  # a value that cannot be rendered becomes a type tag
        text = "<" + type(value).__name__ + ">"
    if len(text) > MAX_VALUE_CHARS:
        text = text[:MAX_VALUE_CHARS] + " ..."
    return text


def _render(value, depth):
    t = type(value)
    if value is None or t is bool or t is int or t is float or t is complex:
        if t is int and value.bit_length() > 256:
            return "<int>"
        return repr(value)
    if t is str:
        text = (
            value[: MAX_VALUE_CHARS + 1]
            .replace("\\", "\\\\")
            .replace("\n", "\\n")
            .replace("\t", "\\t")
        )
        return text.replace("<", "\\x3c") or "''"  # '<' would collide with the markers
    if depth > 4:
        return "..."
    if t in (list, tuple, set, frozenset, dict):
        items = list(value.items()) if t is dict else list(value)
        if t in (set, frozenset):
            items = sorted(items, key=repr)
        shown, more = items[:20], len(items) > 20
        if t is dict:
            parts = [render(k, depth + 1) + " : " + render(v, depth + 1) for k, v in shown]
        else:
            parts = [render(v, depth + 1) for v in shown]
        if more:
            parts.append("...")
        left, right = {list: "[]", tuple: "()", dict: "{}"}.get(t, "{}")
        if t is frozenset:
            left, right = "frozenset(", ")"
        return (left + " " + " , ".join(parts) + " " + right) if parts else left + right
    if t is range or t is bytes:
        return repr(value)[:MAX_VALUE_CHARS].replace("<", "\\x3c")
    # Anything else (user classes, iterators, functions): a type tag; user __repr__ never runs.
    return "<" + t.__name__ + ">"


def visible_state(frame):
    """The variables a line can see: locals of a function, user globals at module level."""
    out = {}
    for name, value in list(frame.f_locals.items()):
        if name.startswith("__") or name.startswith("."):
            continue
        kind = type(value).__name__
        if kind in ("module", "function", "builtin_function_or_method", "type", "method"):
            continue
        out[name] = render(value)
    return out


# ----------------------------------------------------------------------------- tracing
class _Output(io.TextIOBase):
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


def run_program(source, job):
    """Run ``source`` (traced unless job['trace'] is false); return the result dict."""
    flags = {"status": None}
    steps = []
    out = _Output(job["max_output_bytes"], flags)
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
    try:
        code = compile(source, PROG, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        msg = f"SyntaxError: {getattr(exc, 'msg', exc)}" + (f" (line {line})" if line else "")
        return {"status": "syntax_error", "steps": [], "stdout": "", "error": msg}
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


# ----------------------------------------------------------------------------- guards
def _denied(name):
    def deny(*args, **kwargs):
        raise PermissionError(f"{name} is disabled in the code-exec sandbox")

    deny.__name__ = name
    return deny


def install_guards(tmp):
    """Disable process spawning, signals, sockets and writes/removals outside ``tmp``."""
    root = os.path.realpath(tmp)

    def inside(path):
        if isinstance(path, int):
            return False
        full = os.path.realpath(os.fsdecode(path))
        return full == root or full.startswith(root + os.sep)

    spawn = [
        "fork",
        "forkpty",
        "system",
        "popen",
        "execv",
        "execve",
        "execl",
        "execle",
        "execlp",
        "execlpe",
        "execvp",
        "execvpe",
        "spawnv",
        "spawnve",
        "spawnl",
        "spawnle",
        "spawnlp",
        "spawnlpe",
        "spawnvp",
        "spawnvpe",
        "posix_spawn",
        "posix_spawnp",
        "kill",
        "killpg",
        "setsid",
        "setpgid",
        "setuid",
        "setgid",
        "setreuid",
        "setregid",
        "setresuid",
        "setresgid",
        "chroot",
        "register_at_fork",
        "pidfd_open",
    ]
    for mod in (os, posix):
        for name in spawn:
            if hasattr(mod, name):
                setattr(mod, name, _denied("os." + name))

    def guard_paths(name, func, nargs):
        def guarded(*args, **kwargs):
            if kwargs.get("dir_fd") is not None or kwargs.get("src_dir_fd") is not None:
                raise PermissionError(f"os.{name} with dir_fd is disabled in the sandbox")
            for path in args[:nargs]:
                if not inside(path):
                    raise PermissionError(f"os.{name} outside the sandbox temp dir: {path!r}")
            return func(*args, **kwargs)

        return guarded

    mutating = {"remove": 1, "unlink": 1, "rmdir": 1, "removedirs": 1, "rename": 2,
                "replace": 2, "renames": 2, "truncate": 1, "chmod": 1, "chown": 1,
                "lchown": 1, "link": 2, "symlink": 2, "mkdir": 1, "makedirs": 1,
                "utime": 1, "mkfifo": 1, "mknod": 1}  # fmt: skip
    for name, nargs in mutating.items():
        for mod in (os, posix):
            if hasattr(mod, name):
                setattr(mod, name, guard_paths(name, getattr(mod, name), nargs))

    real_open, real_os_open = builtins.open, os.open
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def safe_open(file, mode="r", *args, **kwargs):
        if isinstance(file, int):
            raise PermissionError("open() of a file descriptor is disabled in the sandbox")
        if any(c in str(mode) for c in "wax+") and not inside(file):
            raise PermissionError(f"writing outside the sandbox temp dir: {file!r}")
        return real_open(file, mode, *args, **kwargs)

    def safe_os_open(path, flags, *args, **kwargs):
        if kwargs.get("dir_fd") is not None:
            raise PermissionError("os.open with dir_fd is disabled in the sandbox")
        if flags & write_flags and not inside(path):
            raise PermissionError(f"writing outside the sandbox temp dir: {path!r}")
        return real_os_open(path, flags, *args, **kwargs)

    builtins.open = io.open = safe_open
    os.open = posix.open = safe_os_open

    def soft_exit(code=0):
        raise SystemExit(code)

    os._exit = posix._exit = soft_exit
    for mod in (signal, getattr(signal, "_signal", signal)):
        for name in ("signal", "alarm", "setitimer", "pthread_kill", "siginterrupt",
                     "raise_signal", "pthread_sigmask", "set_wakeup_fd"):  # fmt: skip
            if hasattr(mod, name):
                setattr(mod, name, _denied("signal." + name))
    for name in list(sys.modules):
        if name.split(".")[0] in BLOCKED_MODULES:
            del sys.modules[name]
    real_import = builtins.__import__

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and name.split(".")[0] in BLOCKED_MODULES:
            raise ImportError(f"import of {name!r} is disabled in the code-exec sandbox")
        return real_import(name, globals, locals, fromlist, level)

    class _Blocker:
        @staticmethod
        def find_spec(name, path=None, target=None):
            if name.split(".")[0] in BLOCKED_MODULES:
                raise ImportError(f"import of {name!r} is disabled in the code-exec sandbox")
            return None

    sys.meta_path.insert(0, _Blocker)
    builtins.__import__ = guarded_import
    builtins.exit = builtins.quit = soft_exit


# ----------------------------------------------------------------------------- job child
def child_main(job, tmp, result_fd, options):
    """In the forked child: isolate, limit, guard, run, report, exit. Never returns."""
    real_exit = os._exit
    with contextlib.suppress(BaseException):
        os.setsid()
        os.closerange(3, result_fd)  # the zygote's protocol pipes must stay out of reach
        os.closerange(result_fd + 1, 1 << 16)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.chdir(tmp)
        cpu = int(math.ceil(job["timeout_s"])) + 1
        mem = job["max_memory_mb"] << 20
        limits = [
            (resource.RLIMIT_CORE, 0, 0),
            (resource.RLIMIT_CPU, cpu, cpu + 1),
            (resource.RLIMIT_AS, mem, mem),
            (resource.RLIMIT_FSIZE, job["max_file_bytes"], job["max_file_bytes"]),
            (resource.RLIMIT_NOFILE, job["max_open_files"], job["max_open_files"]),
            (resource.RLIMIT_NPROC, job["max_processes"], job["max_processes"]),
        ]
        for which, soft, hard in limits:
            resource.setrlimit(which, (soft, hard))
        uid = options.get("drop_uid")
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        os.environ.clear()
        os.environ["HOME"] = tmp  # the only variable the program sees
        tempfile.tempdir = tmp
        sys.argv = [PROG]
        if job.get("guards", True):
            install_guards(tmp)
        result = run_program(job["source"], job)
        try:
            payload = json.dumps(result).encode()
        except MemoryError:
            payload = json.dumps({"status": "memory_limit", "steps": [], "stdout": ""}).encode()
        view = memoryview(payload)
        while view:
            view = view[os.write(result_fd, view[: 1 << 16]) :]
    real_exit(0)


# ----------------------------------------------------------------------------- zygote
def _child_pids(parent):
    """Pids whose parent is ``parent`` (a /proc scan; no psutil)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if int(fields[1]) == parent:
            found.append(int(entry))
    return found


def _kill_strays(pidns):
    """Kill and reap every process the job left behind."""
    for _ in range(50):
        if pidns:  # pid 1 of its own namespace: -1 means every other process in it
            with contextlib.suppress(ProcessLookupError):
                os.kill(-1, signal.SIGKILL)
        else:  # subreaper: orphans of the job were re-parented to us
            for pid in _child_pids(os.getpid()):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            return
        if not _child_pids(os.getpid()):
            return
        time.sleep(0.01)


def run_job(job, options):
    tmp = tempfile.mkdtemp(prefix="job-", dir=options.get("tmp_root"))
    uid = options.get("drop_uid")
    if uid is not None:
        os.chown(tmp, uid, uid)
    read_fd, write_fd = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        child_main(job, tmp, write_fd, options)
    os.close(write_fd)
    deadline = started + job["timeout_s"] + GRACE_S
    chunks, size, killed, wait_status = [], 0, False, None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            killed = True
            break
        ready, _, _ = select.select([read_fd], [], [], min(remaining, 0.05))
        if ready:
            data = os.read(read_fd, 1 << 16)
            if not data:
                break
            size += len(data)
            if size > MAX_RESULT_BYTES:
                killed = True
                break
            chunks.append(data)
        else:  # the program may have closed the pipe's fd but still run
            done, wait_status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            wait_status = None
    os.close(read_fd)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    if wait_status is None:
        try:
            wait_status = os.waitpid(pid, 0)[1]
        except ChildProcessError:
            wait_status = 0
    _kill_strays(options.get("pidns", False))
    shutil.rmtree(tmp, ignore_errors=True)
    elapsed = time.monotonic() - started
    result = None
    if not killed and chunks:
        try:
            result = json.loads(b"".join(chunks))
        except ValueError:
            result = None
    if killed:
        result = {"status": "timeout", "steps": [], "stdout": "", "error": None}
    elif not isinstance(result, dict) or "status" not in result:
        sig = os.WTERMSIG(wait_status) if os.WIFSIGNALED(wait_status) else None
        if sig in (signal.SIGXCPU, signal.SIGKILL):
            result = {"status": "timeout", "steps": [], "stdout": "", "error": None}
        elif sig is not None:
            msg = f"process killed by signal {signal.Signals(sig).name}"
            result = {"status": "error", "steps": [], "stdout": "", "error": msg}
        else:
            code = os.WEXITSTATUS(wait_status) if os.WIFEXITED(wait_status) else -1
            msg = f"process ended without a result (exit code {code})"
            result = {"status": "error", "steps": [], "stdout": "", "error": msg}
    result["wall_s"] = elapsed
    return result


def main():
    options = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    for name in PRELOAD:
        __import__(name)
    if not options.get("pidns"):
        try:  # become a subreaper so the job's orphans come back to us (Linux only)
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
        except Exception:
            pass
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    reply = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)
    reply.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    reply.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        try:
            result = run_job(job, options)
        except Exception as exc:  # a sandbox failure is reported, never silently lost
            result = {"status": "error", "steps": [], "stdout": "", "error": f"sandbox: {exc}"}
        result["id"] = job.get("id")
        reply.write(json.dumps(result) + "\n")
        reply.flush()


if __name__ == "__main__":
    main()
