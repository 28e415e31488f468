"""Run untrusted Python in separate, limited processes and collect execution traces.

Layers (see the package README's security section): a pool of pre-started worker processes
(zygotes) started from a scrubbed environment, each in its own pid + network + mount
namespace when ``unshare`` works here (else a Linux subreaper that collects orphans), with
private tmpfs mounts over /tmp, /var/tmp and /dev/shm when root in namespaces. Per program a
forked job process in a new session with RLIMIT_AS / CPU / FSIZE / NOFILE / NPROC / CORE,
running as an unprivileged uid when started as root, confined by **Landlock** (files: read
the interpreter, write only the job's temp folder; no TCP; signals and abstract sockets
scoped to the job) and a **seccomp** filter (no exec, no new processes, no ptrace, no
sockets, no administrative calls), with Python guards as a friendly first layer. The job is
killed with its process group on timeout and every stray process is killed before the next
job. The caller never hangs: a worker that does not answer in time is killed with its whole
namespace and replaced. ``Sandbox.layers`` reports what is in force; ``require=`` refuses
to run without the named layers.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

from lmlab_common import get_logger, progress
from lmlab_common import require as _require

from ._worker import landlock as _landlock
from .config import LAYERS, SandboxConfig
from .layers import available_layers, missing_message, namespaces_available
from .trace_format import Step, Trace

WORKER_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_worker")
REPLY_SLACK_S = 5.0  # extra wall time the caller waits for a worker beyond timeout_s
START_TIMEOUT_S = 30.0
_log = get_logger(__name__)


def _descendants(root: int) -> list[int]:
    """All processes below ``root`` (a /proc scan, no psutil)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _die_with_parent() -> None:
    """In the forked worker before exec: SIGKILL it when the thread that started it exits, so
    a caller that crashes or is killed never leaves sandbox workers behind."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class _Worker:
    """One pre-started zygote process and its pipes."""

    def __init__(self, config: SandboxConfig, tmp_root: str):
        self.config, self.tmp_root = config, tmp_root
        self.proc: subprocess.Popen | None = None
        self.buffer = b""
        self.lock = threading.RLock()
        self.layers: list[str] = []
        self.details: dict = {}

    @property
    def isolated(self) -> bool:
        mode = self.config.isolation
        if mode == "namespace" and not namespaces_available():
            raise RuntimeError("isolation='namespace' but unshare does not work on this machine")
        return mode == "namespace" or (mode == "auto" and namespaces_available())

    def start(self) -> None:
        pidns = self.isolated
        cfg = self.config
        want = [name for name in ("landlock", "seccomp", "private_tmp") if getattr(cfg, name)]
        options = {"pidns": pidns, "tmp_root": self.tmp_root, "drop_uid": None, "want": want,
                   "guards": cfg.in_child_guards, "tmpfs_mb": cfg.tmpfs_mb}  # fmt: skip
        if cfg.drop_privileges and os.geteuid() == 0:
            options["drop_uid"] = cfg.unprivileged_uid
        argv = [sys.executable, "-I", "-B", WORKER_PATH, json.dumps(options)]
        if pidns:
            argv = [shutil.which("unshare"), "--pid", "--fork", "--net", "--mount-proc",
                    "--kill-child", "--", *argv]  # fmt: skip
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            cwd="/",
        )
        self.buffer = b""
        line = self._read_line(START_TIMEOUT_S)
        hello = json.loads(line) if line else {}
        if not hello.get("ready"):
            self.kill()
            raise RuntimeError("the sandbox worker did not start")
        self.layers, self.details = list(hello.get("layers", [])), hello.get("details", {})
        missing = [name for name in self.config.require if name not in self.layers]
        if missing:
            self.kill()
            raise RuntimeError(missing_message(missing, self.layers, self.details))

    def _read_line(self, timeout: float) -> bytes | None:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
            data = os.read(fd, 1 << 16)
            if not data:
                return None
            self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line

    def kill(self) -> None:
        """Kill the worker, its namespace (pid 1 dies) and anything below it."""
        if self.proc is None:
            return
        pids = _descendants(self.proc.pid)
        for target in (lambda: os.killpg(self.proc.pid, signal.SIGKILL),):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                target()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                stream.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _log.warning("sandbox worker %s did not exit after SIGKILL", self.proc.pid)
        self.proc = None

    def run(self, job: dict) -> dict:
        with self.lock:
            if self.proc is None or self.proc.poll() is not None:
                self.kill()
                self.start()
            assert self.proc is not None and self.proc.stdin is not None
            try:
                self.proc.stdin.write(json.dumps(job).encode() + b"\n")
                self.proc.stdin.flush()
                line = self._read_line(job["timeout_s"] + REPLY_SLACK_S)
            except (BrokenPipeError, OSError):
                line = None
            if line is None:  # the worker itself is stuck or gone: replace it
                self.kill()
                return {"status": "timeout", "steps": [], "stdout": "", "error": None}
            return json.loads(line)


def _to_trace(result: dict) -> Trace:
    steps = [Step(int(line), dict(state), list(out)) for line, state, out in result["steps"]]
    return Trace(
        status=result["status"],
        steps=steps,
        stdout=result.get("stdout", ""),
        error=result.get("error"),
        duration_s=float(result.get("wall_s", 0.0)),
    )


def _check_source(source: str | bytes) -> str:
    if isinstance(source, bytes):
        try:
            return source.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"source is not valid UTF-8 (byte {exc.start}: "
                f"{source[exc.start : exc.start + 1]!r}); allowed: UTF-8 text"
            ) from None
    _require(isinstance(source, str), "source", type(source).__name__, "str or UTF-8 bytes")
    return source


class Sandbox:
    """A pool of sandbox workers. Use as a context manager (or call :meth:`close`).

    >>> with Sandbox(pool_size=2) as box:
    ...     traces = box.map(["x = 1", "print(2)"])
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        pool_size: int = 2,
        *,
        require: Iterable[str] | None = None,
    ):
        _require(isinstance(pool_size, int) and pool_size > 0, "pool_size", pool_size, "int > 0")
        self.config = config or SandboxConfig()
        if require is not None:
            self.config = self.config.replace(require=tuple(require))
        offered = available_layers(self.config)
        missing = [name for name in self.config.require if not offered.get(name)]
        if missing:  # refuse before starting anything
            in_force = [name for name in LAYERS if offered.get(name)]
            details = {"landlock_abi": _landlock.abi_version()}
            raise RuntimeError(missing_message(missing, in_force, details))
        self._closed = True  # until the temp root exists (__del__ is safe on failure)
        self.tmp_root = tempfile.mkdtemp(prefix="code-exec-")
        os.chmod(self.tmp_root, 0o711)  # the unprivileged job may enter its own subdir only
        self.workers = [_Worker(self.config, self.tmp_root) for _ in range(pool_size)]
        self._free: list[_Worker] = list(self.workers)
        self._cv = threading.Condition()
        self._closed = False

    @property
    def layers(self) -> tuple[str, ...]:
        """The protection layers in force, as reported by the started workers, e.g.
        ``("rlimits", "session", "namespaces", "uid_drop", "private_tmp", "landlock",
        "landlock_net", "landlock_scope", "seccomp", "guards")``. Starts the pool."""
        self.start()
        return tuple(self.workers[0].layers)

    @property
    def layer_details(self) -> dict:
        """Details from the first worker (Landlock ABI, covered tmpfs folders, errors)."""
        self.start()
        return dict(self.workers[0].details)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Kill every worker (and its namespace) and remove the temp root."""
        self._closed = True
        for worker in self.workers:
            with worker.lock:
                worker.kill()
        shutil.rmtree(self.tmp_root, ignore_errors=True)

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            self.close()

    def start(self) -> None:
        """Start every worker now (otherwise each starts on its first job)."""
        for worker in self.workers:
            with worker.lock:
                if worker.proc is None or worker.proc.poll() is not None:
                    worker.kill()
                    worker.start()

    def _job(self, source: str, stdin: str | None, trace: bool, limits: dict) -> dict:
        config = self.config.replace(**limits) if limits else self.config
        job = config.job_limits()
        job.update(source=_check_source(source), stdin=stdin, trace=trace)
        _require(stdin is None or isinstance(stdin, str), "stdin", type(stdin).__name__, "str")
        return job

    def _acquire(self) -> _Worker:
        with self._cv:
            while not self._free:
                self._cv.wait()
            return self._free.pop()

    def _release(self, worker: _Worker) -> None:
        with self._cv:
            self._free.append(worker)
            self._cv.notify()

    def run(
        self, source: str | bytes, *, stdin: str | None = None, trace: bool = True, **limits
    ) -> Trace:
        """Run one program; ``limits`` override :class:`SandboxConfig` fields for this call."""
        if self._closed:
            raise RuntimeError("this Sandbox is closed")
        job = self._job(source, stdin, trace, limits)
        worker = self._acquire()
        try:
            return _to_trace(worker.run(job))
        finally:
            self._release(worker)

    def map(
        self,
        sources: Sequence[str | bytes],
        *,
        stdins: Sequence[str | None] | None = None,
        trace: bool = True,
        show_progress: bool | None = None,
        **limits,
    ) -> list[Trace]:
        """Run many programs in parallel over the pool; results keep the input order."""
        sources = list(sources)
        stdins = list(stdins) if stdins is not None else [None] * len(sources)
        _require(len(stdins) == len(sources), "stdins", len(stdins), f"{len(sources)} items")
        jobs = [self._job(s, i, trace, limits) for s, i in zip(sources, stdins, strict=True)]
        self.start()  # from this thread: workers die with the thread that started them

        def one(job: dict) -> Trace:
            worker = self._acquire()
            try:
                return _to_trace(worker.run(job))
            finally:
                self._release(worker)

        with ThreadPoolExecutor(max_workers=len(self.workers)) as pool:
            results = pool.map(one, jobs)
            return list(
                progress(results, desc="tracing", total=len(jobs), disable=show_progress is False)
            )


def trace(
    source: str | bytes,
    *,
    stdin: str | None = None,
    timeout_s: float = 2.0,
    max_steps: int = 1000,
    max_memory_mb: int = 256,
    max_output_bytes: int = 64_000,
    config: SandboxConfig | None = None,
) -> Trace:
    """Trace one program in a fresh one-worker sandbox (use :class:`Sandbox` for many)."""
    base = config or SandboxConfig()
    cfg = base.replace(
        timeout_s=timeout_s,
        max_steps=max_steps,
        max_memory_mb=max_memory_mb,
        max_output_bytes=max_output_bytes,
    )
    with Sandbox(cfg, pool_size=1) as box:
        return box.run(source, stdin=stdin)


def trace_many(
    sources: Iterable[str], config: SandboxConfig | None = None, num_proc: int = 2
) -> list[Trace]:
    """Trace many programs with a pool of ``num_proc`` workers."""
    with Sandbox(config, pool_size=num_proc) as box:
        return box.map(list(sources))
