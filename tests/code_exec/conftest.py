import os

import pytest
from code_exec.sandbox import Sandbox, _descendants


@pytest.fixture(scope="module")
def box():
    with Sandbox(pool_size=2) as sandbox:
        yield sandbox
    assert _descendants(os.getpid()) == [], "sandbox left processes behind after close()"


def _only_workers_remain(*boxes):
    """Every process below the test process is a worker or inside a worker's tree at rest."""
    allowed = set()
    for pid in {w.proc.pid for box in boxes for w in box.workers if w.proc is not None}:
        allowed.add(pid)
        below = _descendants(pid)  # unshare's one child (the zygote); the zygote has none
        assert len(below) <= 1, f"worker {pid} still has children {below}"
        allowed.update(below)
    assert set(_descendants(os.getpid())) <= allowed


@pytest.fixture
def only_workers_remain():
    """``only_workers_remain(*boxes)`` asserts no process outlived the last job."""
    return _only_workers_remain
