"""The zygote: a pre-started worker that never runs untrusted code itself.

Started by :mod:`code_exec.sandbox` as ``python -I -B <worker folder> '<json options>'``
from a scrubbed environment, optionally as pid 1 of fresh pid/net/mount namespaces
(``unshare``). At start it detects and prepares the kernel layers (private tmpfs mounts,
Landlock path descriptors, seccomp support) and reports the layers in force in its first
line. Then it reads one JSON job per line on stdin and, for each job, forks a child
(:mod:`.job`), enforces the wall-clock limit, kills the job's process group plus every
stray process, removes the job's temp folder and writes one JSON result line on stdout.
"""

import contextlib
import json
import os
import select
import shutil
import signal
import sys
import tempfile
import time

from . import landlock, libc, mounts, seccomp
from .job import child_main

GRACE_S = 0.5  # wall-clock slack after timeout_s before the zygote kills the job
MAX_RESULT_BYTES = 64 << 20
# Modules imported up front, so a child that can no longer read the interpreter's folder
# (unprivileged uid) still has the common ones.
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
    try:  # the common case (seccomp allows no new process): nothing left, no /proc scan
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        return
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


def _failure(wait_status):
    """The result of a child that wrote nothing usable."""
    sig = os.WTERMSIG(wait_status) if os.WIFSIGNALED(wait_status) else None
    if sig in (signal.SIGXCPU, signal.SIGKILL):
        return {"status": "timeout", "steps": [], "stdout": "", "error": None}
    if sig is not None:
        msg = f"process killed by signal {signal.Signals(sig).name}"
        return {"status": "error", "steps": [], "stdout": "", "error": msg}
    code = os.WEXITSTATUS(wait_status) if os.WIFEXITED(wait_status) else -1
    msg = f"process ended without a result (exit code {code})"
    return {"status": "error", "steps": [], "stdout": "", "error": msg}


def run_job(job, options, plan):
    tmp = tempfile.mkdtemp(prefix="job-", dir=options.get("tmp_root"))
    uid = options.get("drop_uid")
    if uid is not None:
        os.chown(tmp, uid, uid)
    read_fd, write_fd = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        child_main(job, tmp, write_fd, options, plan)
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
        result = _failure(wait_status)
    result["wall_s"] = elapsed
    return result


def prepare_layers(options):
    """Detect and prepare the kernel layers; return (layers in force, details, Landlock plan).

    ``options["want"]`` lists the layers the caller's config asks for; a layer is in force
    only when asked for *and* prepared here (each job then applies it or refuses to run)."""
    want = set(options.get("want", ()))
    layers, details, plan = ["rlimits", "session"], {}, None
    if options.get("pidns"):
        layers.append("namespaces")
    if options.get("drop_uid") is not None:
        layers.append("uid_drop")
    if "private_tmp" in want and options.get("pidns") and os.geteuid() == 0:
        try:
            details["private_tmp"] = mounts.private_tmp(options.get("tmpfs_mb", 64))
            options["tmp_root"] = tempfile.mkdtemp(prefix="jobs-", dir="/tmp")
            os.chmod(options["tmp_root"], 0o711)
            layers.append("private_tmp")
        except OSError as exc:
            details["private_tmp_error"] = str(exc)
    abi = landlock.abi_version()
    details["landlock_abi"] = abi
    if "landlock" in want and abi >= 1:
        try:
            plan = landlock.Plan(abi)
            layers += landlock.features(abi)
        except OSError as exc:
            details["landlock_error"] = str(exc)
    if "seccomp" in want and seccomp.available():
        layers.append("seccomp")
    if options.get("guards"):
        layers.append("guards")
    return layers, details, plan


def main():
    options = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    for name in PRELOAD:
        __import__(name)
    if not options.get("pidns"):
        with contextlib.suppress(OSError):  # orphans of the job come back to us (Linux)
            libc.prctl(libc.PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    layers, details, plan = prepare_layers(options)
    options["layers"] = layers
    reply = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)
    hello = {"ready": True, "pid": os.getpid(), "layers": layers, "details": details}
    reply.write(json.dumps(hello) + "\n")
    reply.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        try:
            result = run_job(job, options, plan)
        except Exception as exc:  # a sandbox failure is reported, never silently lost
            result = {"status": "error", "steps": [], "stdout": "", "error": f"sandbox: {exc}"}
        result["id"] = job.get("id")
        reply.write(json.dumps(result) + "\n")
        reply.flush()
