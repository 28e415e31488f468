"""Hostile programs: each gets its documented status in time; nothing escapes or lingers."""

import os
import time
import uuid

import pytest
from code_exec.config import SandboxConfig
from code_exec.sandbox import Sandbox, _descendants, namespaces_available

LIMIT_S = 1.0
SLACK_S = 2.5  # worker start-up and a loaded 2-core machine


def run_timed(box, source, **limits):
    limits.setdefault("timeout_s", LIMIT_S)
    start = time.monotonic()
    result = box.run(source, **limits)
    elapsed = time.monotonic() - start
    assert elapsed < limits["timeout_s"] + SLACK_S, f"took {elapsed:.2f}s"
    return result


def worker_pids(*boxes):
    return {w.proc.pid for box in boxes for w in box.workers if w.proc is not None}


def assert_only_workers_remain(*boxes):
    """Every process below the test process is a worker or inside a worker's tree at rest."""
    allowed = set()
    for pid in worker_pids(*boxes):
        allowed.add(pid)
        # the unshare wrapper has exactly one child (the zygote); the zygote has none at rest
        below = _descendants(pid)
        assert len(below) <= 1, f"worker {pid} still has children {below}"
        allowed.update(below)
    assert set(_descendants(os.getpid())) <= allowed


HOSTILE = {
    "infinite_loop": ("while True:\n    pass\n", {"step_limit", "timeout"}),
    "infinite_loop_unbounded_steps": ("while True:\n    pass\n", {"timeout"}),
    "sleep_forever": ("import time\ntime.sleep(1000)\n", {"timeout"}),
    "c_level_spin": ("x = 10 ** (10 ** 8)\n", {"timeout"}),
    "memory_bomb": ("x = [0] * (10 ** 10)\n", {"memory_limit"}),
    "memory_growth": ("x = []\nwhile True:\n    x.append('a' * 10 ** 6)\n", {"memory_limit"}),
    "fork_bomb": ("import os\nwhile True:\n    os.fork()\n", {"error"}),
    "deep_recursion": ("def f(n):\n    return f(n + 1)\nf(0)\n", {"error"}),
    "output_flood": ("while True:\n    print('x' * 10000)\n", {"output_limit"}),
    "os_system": ("import os\nos.system('touch /tmp/pwned')\n", {"error"}),
    "subprocess": ("import subprocess\nsubprocess.run(['true'])\n", {"error"}),
    "sys_exit": ("import sys\nsys.exit(3)\n", {"error"}),
    "os_exit": ("import os\nos._exit(4)\n", {"error"}),
    "signal_ignore": (
        "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass\n",
        {"error"},
    ),
    "alarm": ("import signal\nsignal.alarm(1)\n", {"error"}),
    "endless_thread": (
        "import threading\n"
        "def spin():\n    while True:\n        pass\n"
        "threading.Thread(target=spin).start()\nx = 1\n",
        {"ok"},
    ),
    "joined_endless_thread": (
        "import threading, time\n"
        "def spin():\n    time.sleep(1000)\n"
        "t = threading.Thread(target=spin)\nt.start()\nt.join()\n",
        {"timeout"},
    ),
    "socket": ("import socket\nsocket.create_connection(('127.0.0.1', 22))\n", {"error"}),
    "ctypes": ("import ctypes\nctypes.CDLL(None).fork()\n", {"error"}),
    "swallow_limit": (
        "while True:\n    try:\n        while True:\n            pass\n"
        "    except BaseException:\n        pass\n",
        {"step_limit", "timeout"},
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_program_gets_documented_status(box, name):
    source, statuses = HOSTILE[name]
    limits = {"max_steps": 10**9} if name == "infinite_loop_unbounded_steps" else {}
    result = run_timed(box, source, max_output_bytes=100_000, **limits)
    assert result.status in statuses, (result.status, result.error)
    assert_only_workers_remain(box)


def test_files_outside_temp_dir_are_untouched(box, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    os.chmod(tmp_path, 0o777)  # even a world-writable dir is protected by the guards
    created = f"/tmp/code_exec_evil_{uuid.uuid4().hex}"
    attacks = [
        f"import os\nos.remove({str(victim)!r})\n",
        f"open({str(victim)!r}, 'w').write('gone')\n",
        f"open({created!r}, 'w').write('x')\n",
        f"import os\nos.rename({str(victim)!r}, {created!r})\n",
        f"import os\nfd = os.open({created!r}, os.O_CREAT | os.O_WRONLY)\n",
        f"import shutil\nshutil.rmtree({str(tmp_path)!r})\n",
        "import os\nos.chdir('/tmp')\nopen('evil_rel.txt', 'w').write('x')\n",
    ]
    for source in attacks:
        result = run_timed(box, source)
        assert result.status == "error", (source, result.status)
    assert victim.read_text() == "precious"
    assert not os.path.exists(created)


def test_writing_inside_temp_dir_works(box):
    source = "open('a.txt', 'w').write('hi')\ns = open('a.txt').read()\n"
    result = run_timed(box, source)
    assert result.status == "ok", result.error
    assert result.steps[-1].state["s"] == "hi"


def test_parent_environment_is_invisible(box):
    secret = uuid.uuid4().hex
    os.environ["CODE_EXEC_TEST_SECRET"] = secret
    try:
        source = (
            "import os\nprint(dict(os.environ))\n"
            f"for p in ['/proc/1/environ', '/proc/{os.getpid()}/environ']:\n"
            "    try:\n        print(open(p, 'rb').read())\n"
            "    except Exception as e:\n        print(type(e).__name__)\n"
        )
        result = run_timed(box, source)
    finally:
        del os.environ["CODE_EXEC_TEST_SECRET"]
    assert result.status == "ok", result.error
    assert secret not in result.stdout


def test_unprivileged_and_isolated_when_root(box):
    # Landlock keeps the job out of /proc/1, so the namespace shows through the parent's pid
    source = "import os\nu = os.getuid()\nparent = os.getppid()\n"
    result = run_timed(box, source)
    state = result.steps[-1].state
    if os.geteuid() == 0:
        assert state["u"] == str(SandboxConfig().unprivileged_uid)
    if namespaces_available():
        assert state["parent"] == "1"  # own pid namespace: pid 1 is the sandbox zygote


def test_raw_fork_bomb_contained_without_in_child_guards(box):
    """With the Python guards off, the outer layers alone (pid namespace or subreaper, NPROC
    for the unprivileged uid, process-group kill) contain a fork bomb and clean up."""
    config = SandboxConfig(in_child_guards=False, timeout_s=1.0, max_processes=16)
    source = (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    )
    escape = "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(1000)\n"
    with Sandbox(config, pool_size=1) as raw:
        for program in (source, escape):
            start = time.monotonic()
            result = raw.run(program)
            assert time.monotonic() - start < 1.0 + SLACK_S
            assert result.status in {"timeout", "step_limit", "ok", "error"}
            assert_only_workers_remain(raw, box)
    assert_only_workers_remain(box)


def test_stuck_worker_is_replaced_and_caller_does_not_hang(box):
    worker = box.workers[0]
    with worker.lock:
        if worker.proc is None:
            worker.start()
        for pid in [worker.proc.pid, *_descendants(worker.proc.pid)]:
            os.kill(pid, 19)  # SIGSTOP: the worker cannot answer any more
        result = worker.run({**box.config.job_limits(), "timeout_s": 0.2, "source": "x = 1",
                             "stdin": None, "trace": True})  # fmt: skip
    assert result["status"] == "timeout"
    assert box.run("x = 1").status == "ok"


def test_process_isolation_fallback_works(box):
    config = SandboxConfig(isolation="process", timeout_s=1.0)
    escape = "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(1000)\n"
    with Sandbox(config.replace(in_child_guards=False), pool_size=1) as fallback:
        assert fallback.run("x = 1\n").steps[-1].state == {"x": "1"}
        assert fallback.run("import time\ntime.sleep(100)\n").status == "timeout"
        fallback.run(escape)  # the orphan comes back to the subreaper and is killed
        assert_only_workers_remain(fallback, box)
    assert_only_workers_remain(box)
