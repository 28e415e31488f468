import os

import pytest
from code_exec.sandbox import Sandbox, _descendants


@pytest.fixture(scope="module")
def box():
    with Sandbox(pool_size=2) as sandbox:
        yield sandbox
    assert _descendants(os.getpid()) == [], "sandbox left processes behind after close()"
