"""The forked job child: isolate, apply the kernel layers, guard, run, report, exit.

Order matters: descriptors and the working folder are set up first, then Landlock (which
needs the zygote's pre-opened path descriptors), the rlimits, the uid drop, and last the
seccomp filter (it refuses ``setuid``, so it comes after the drop). A requested layer that
cannot be applied ends the job with an error *before* any program code runs.
"""

import json
import math
import os
import resource
import sys
import tempfile

from . import landlock, seccomp
from .guards import install_guards
from .tracer import PROG, run_program


class LayerError(Exception):
    """A kernel layer the sandbox reported as in force could not be applied to this job."""


def _close_fds_except(keep):
    low = 3
    for fd in sorted(keep):
        if fd >= low:
            os.closerange(low, fd)
            low = fd + 1
    os.closerange(low, 1 << 16)


def _set_limits(job):
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


def _isolate(job, tmp, result_fd, options, plan):
    """Everything before the program runs; raises ``LayerError`` for a layer that failed."""
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.chdir(tmp)
    layers = options.get("layers", [])
    if "landlock" in layers:
        try:
            landlock.restrict(plan, tmp)
        except OSError as exc:
            raise LayerError(f"landlock could not be applied: {exc}") from None
    _close_fds_except({result_fd})  # the zygote's pipes and path descriptors stay out of reach
    _set_limits(job)
    uid = options.get("drop_uid")
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    os.environ.clear()
    os.environ["HOME"] = tmp  # the only variable the program sees
    tempfile.tempdir = tmp
    sys.argv = [PROG]
    if "seccomp" in layers:
        try:
            seccomp.install(os.getpid())
        except OSError as exc:
            raise LayerError(f"seccomp could not be applied: {exc}") from None


def _write_result(fd, result):
    try:
        payload = json.dumps(result).encode()
    except MemoryError:
        payload = json.dumps({"status": "memory_limit", "steps": [], "stdout": ""}).encode()
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view[: 1 << 16]) :]


def child_main(job, tmp, result_fd, options, plan):
    """In the forked child. Never returns."""
    real_exit = os._exit
    try:
        try:
            _isolate(job, tmp, result_fd, options, plan)
        except Exception as exc:  # no program code runs without every requested layer
            _write_result(result_fd, {"status": "error", "steps": [], "stdout": "",
                                      "error": f"sandbox: {exc}"})  # fmt: skip
            real_exit(0)
        if job.get("guards", True):
            install_guards(tmp)
        _write_result(result_fd, run_program(job["source"], job))
    except BaseException:
        pass
    real_exit(0)
