"""The bypasses of the Python guards (issue 11), each run with the guards on AND off, in both
modes: root with namespaces + uid drop, and a caller without namespaces and without a uid
drop (simulated with the sandbox's own options, since tests here run as root). Every case
asserts that nothing outside the job's temp folder changed and that no process outlived the
job; the kernel layers (Landlock, seccomp, mounts) must hold on their own."""

import os
import uuid

import pytest
from code_exec import Sandbox, SandboxConfig
from code_exec.sandbox import _descendants, available_layers

MODES = {
    "root_namespaces": {},
    "no_namespaces_no_uid_drop": {"isolation": "process", "drop_privileges": False},
}
KERNEL = ("landlock", "seccomp")
CASES = [(mode, guards) for mode in MODES for guards in (True, False)]


@pytest.fixture(scope="module", params=CASES, ids=[f"{m}-guards_{g}" for m, g in CASES])
def hostile_box(request):
    mode, guards = request.param
    config = SandboxConfig(timeout_s=2.0, in_child_guards=guards, **MODES[mode])
    with Sandbox(config, pool_size=2, require=KERNEL) as box:
        box.start()
        yield box


@pytest.fixture
def places(tmp_path):
    """Targets outside the job: a world-writable folder with a victim, and fresh names in
    /tmp and /dev/shm."""
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(tmp_path, 0o777)
    os.chmod(shared, 0o777)
    victim = shared / "victim.txt"
    victim.write_text("precious")
    tag = uuid.uuid4().hex
    out = {
        "shared": str(shared),
        "victim": str(victim),
        "tmp": f"/tmp/code_exec_evil_{tag}",
        "shm": f"/dev/shm/code_exec_evil_{tag}",
        "vartmp": f"/var/tmp/code_exec_evil_{tag}",
    }
    yield out
    for key in ("tmp", "shm", "vartmp"):
        if os.path.exists(out[key]):
            os.remove(out[key])


def assert_nothing_changed(places):
    assert sorted(os.listdir(places["shared"])) == ["victim.txt"]
    with open(places["victim"]) as fh:
        assert fh.read() == "precious"
    for key in ("tmp", "shm", "vartmp"):
        assert not os.path.exists(places[key]), f"{places[key]} was created"


FRESH_POSIX = "import sys\ndel sys.modules['posix']\nimport posix\n"
BYPASSES = {
    "raw_io_tmp": "import _io\n_io.FileIO({tmp!r}, 'w').write(b'x')\n",
    "raw_io_var_tmp": "import _io\n_io.FileIO({vartmp!r}, 'w').write(b'x')\n",
    "raw_io_dev_shm_flood": (
        "import _io\nf = _io.FileIO({shm!r}, 'w')\nfor _ in range(45):\n"
        "    f.write(b'x' * 2 ** 20)\n"
    ),
    "raw_io_world_writable_folder": (
        "import _io\n_io.FileIO({shared!r} + '/new.txt', 'w').write(b'x')\n"
        "_io.FileIO({victim!r}, 'w').write(b'gone')\n"
    ),
    "fresh_posix_open": FRESH_POSIX
    + "fd = posix.open({tmp!r}, posix.O_CREAT | posix.O_WRONLY, 0o644)\nposix.write(fd, b'x')\n",
    "fresh_posix_unlink": FRESH_POSIX + "posix.unlink({victim!r})\n",
    "fresh_posix_rename": FRESH_POSIX + "posix.rename({victim!r}, {tmp!r})\n",
    "fresh_posix_system": FRESH_POSIX + "print(posix.system('id > {tmp}; rm -f {victim}'))\n",
    "closures": (
        "import os\nfn = os.remove\ncells = fn.__closure__ or ()\n"
        "found = [c.cell_contents for c in cells if callable(c.cell_contents)] or [fn]\n"
        "for f in found:\n    try:\n        f({victim!r})\n    except TypeError:\n        pass\n"
    ),
    "exec_shell": FRESH_POSIX + "posix.execv('/bin/sh', ['sh', '-c', 'touch {tmp}'])\n",
    "ctypes_system": (
        "import sys\nctypes = sys.modules.get('ctypes') or __import__('ctypes')\n"
        "ctypes.CDLL(None).system(b'touch {tmp}')\n"
    ),
    "fork_then_write": (
        FRESH_POSIX + "pid = posix.fork()\nif pid == 0:\n    import _io\n"
        "    _io.FileIO({tmp!r}, 'w').write(b'x')\n"
    ),
    "chmod_and_symlink": FRESH_POSIX
    + "posix.chmod({shared!r}, 0o700)\nposix.symlink('/etc/passwd', {shared!r} + '/link')\n",
}


@pytest.mark.parametrize("name", sorted(BYPASSES))
def test_bypass_of_the_guards_changes_nothing_outside(
    hostile_box, places, name, only_workers_remain
):
    source = BYPASSES[name].format(**places)
    result = hostile_box.run(source)
    assert result.status in {"ok", "error"}, (result.status, result.error)
    assert_nothing_changed(places)
    assert oct(os.stat(places["shared"]).st_mode & 0o777) == oct(0o777)
    only_workers_remain(hostile_box)


def test_caller_environment_and_proc_are_out_of_reach(hostile_box):
    secret = uuid.uuid4().hex
    os.environ["CODE_EXEC_TEST_SECRET"] = secret
    try:
        targets = [f"/proc/{os.getpid()}/environ", "/proc/1/environ", "/proc/1/cmdline"]
        source = (
            "import _io, os\n"
            f"for p in {targets!r} + ['/proc/%d/environ' % os.getppid()]:\n"
            "    try:\n        print(_io.FileIO(p, 'r').read())\n"
            "    except OSError as e:\n        print(p, type(e).__name__)\n"
        )
        result = hostile_box.run(source)
    finally:
        del os.environ["CODE_EXEC_TEST_SECRET"]
    assert result.status == "ok", result.error
    assert secret not in result.stdout
    assert result.stdout.count("PermissionError") + result.stdout.count("FileNotFound") >= 4


def test_kill_minus_one_does_not_reach_other_jobs_or_the_pool(hostile_box, only_workers_remain):
    sleeper = "import time\ntime.sleep(0.8)\nx = 1\n"
    killer = FRESH_POSIX + (
        "import os, time\ntime.sleep(0.2)\nhits = []\n"
        "for pid in (-1, os.getppid(), 1):\n    try:\n        posix.kill(pid, 9)\n"
        "        hits.append(pid)\n    except OSError:\n        pass\n"
    )
    before = {w.proc.pid for w in hostile_box.workers}
    results = hostile_box.map([sleeper, killer, sleeper], show_progress=False)
    assert results[0].status == "ok" and results[2].status == "ok", [r.status for r in results]
    assert results[0].steps[-1].state == {"x": "1"}
    assert results[1].status in {"ok", "error"}
    if results[1].status == "ok":
        assert results[1].steps[-1].state["hits"] == "[]"
    assert {w.proc.pid for w in hostile_box.workers} == before  # no worker was killed
    assert all(w.proc.poll() is None for w in hostile_box.workers)
    only_workers_remain(hostile_box)


def test_loopback_tcp_is_refused(hostile_box):
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    source = FRESH_POSIX + (
        "import sys\nsys.modules.pop('_socket', None)\nimport _socket\n"
        f"s = _socket.socket()\ns.connect(('127.0.0.1', {port}))\n"
    )
    try:
        result = hostile_box.run(source)
        with pytest.raises(TimeoutError):
            server.accept()
    finally:
        server.close()
    assert result.status == "error", result.status


def test_harmless_signal_calls_work(hostile_box):
    source = (
        "import signal, os\nsignal.signal(signal.SIGPIPE, signal.SIG_DFL)\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "got = []\nsignal.signal(signal.SIGUSR1, lambda *a: got.append(1))\n"
        "os.kill(os.getpid(), signal.SIGUSR1)\nn = len(got)\n"
    )
    result = hostile_box.run(source)
    assert result.status == "ok", result.error
    assert result.steps[-1].state["n"] == "1"


def test_threads_and_ordinary_programs_still_work(hostile_box):
    source = (
        "import threading, queue, json, time\nq = queue.Queue()\n"
        "ts = [threading.Thread(target=q.put, args=(i,)) for i in range(4)]\n"
        "for t in ts:\n    t.start()\nfor t in ts:\n    t.join()\n"
        "s = sorted(q.get() for _ in range(4))\n"
        "open('f.txt', 'w').write(json.dumps(s))\nback = open('f.txt').read()\n"
    )
    result = hostile_box.run(source)
    assert result.status == "ok", result.error
    assert result.steps[-1].state["back"] == "[0, 1, 2, 3]"


def test_layers_in_force_are_reported(hostile_box):
    layers = hostile_box.layers
    assert {"landlock", "landlock_net", "landlock_scope", "seccomp"} <= set(layers)
    assert ("guards" in layers) == hostile_box.config.in_child_guards
    if hostile_box.config.isolation == "process":
        assert "namespaces" not in layers and "uid_drop" not in layers
    elif available_layers(hostile_box.config)["private_tmp"]:
        assert {"namespaces", "private_tmp", "uid_drop"} <= set(layers)


# --- each kernel layer on its own, and the refusal to run without one -----------------------


def test_landlock_alone_keeps_files_safe(places):
    config = SandboxConfig(in_child_guards=False, seccomp=False, isolation="process",
                           drop_privileges=False)  # fmt: skip
    with Sandbox(config, pool_size=1) as box:
        assert "seccomp" not in box.layers and "landlock" in box.layers
        for name in ("raw_io_tmp", "raw_io_dev_shm_flood", "fresh_posix_unlink", "closures"):
            box.run(BYPASSES[name].format(**places))
        assert_nothing_changed(places)


def test_seccomp_alone_stops_exec_and_fork(places):
    config = SandboxConfig(in_child_guards=False, landlock=False, isolation="process",
                           drop_privileges=False)  # fmt: skip
    with Sandbox(config, pool_size=1) as box:
        assert "landlock" not in box.layers and "seccomp" in box.layers
        for name in ("exec_shell", "fresh_posix_system", "ctypes_system"):
            box.run(BYPASSES[name].format(**places))
        assert not os.path.exists(places["tmp"])
        result = box.run("import os\ntry:\n    os.fork()\nexcept OSError as e:\n    err = str(e)\n")
        assert "Operation not permitted" in result.steps[-1].state["err"]
        assert _descendants(box.workers[0].proc.pid) == []  # the zygote has no child left


def test_require_refuses_to_run_without_a_layer():
    with pytest.raises(RuntimeError, match="required layer.*landlock"):
        Sandbox(SandboxConfig(landlock=False), require=("landlock", "seccomp"))
    with pytest.raises(ValueError, match="require"):
        SandboxConfig(require=("selinux",))


def test_no_sandbox_process_holds_the_callers_secrets():
    secret = uuid.uuid4().hex
    os.environ["CODE_EXEC_TEST_SECRET"] = secret
    try:
        with Sandbox(SandboxConfig(), pool_size=1) as box:
            box.start()
            worker = box.workers[0].proc.pid
            pids = [worker, *_descendants(worker)]
            for pid in pids:
                with open(f"/proc/{pid}/environ", "rb") as fh:
                    assert secret.encode() not in fh.read(), f"pid {pid} has the secret"
            result = box.run("import os\nkeys = sorted(os.environ)\n")
            assert result.steps[-1].state["keys"] == "[ HOME ]"
    finally:
        del os.environ["CODE_EXEC_TEST_SECRET"]
