import json
import logging

import pytest
from lmlab_common import get_logger, progress, progress_enabled
from lmlab_common.cli import main


def test_logger_has_one_handler_and_level(monkeypatch):
    monkeypatch.setenv("LMLAB_LOG_LEVEL", "WARNING")
    log = get_logger("lmlab.test.x")
    again = get_logger("lmlab.test.x")
    assert log is again and len(log.handlers) == 1 and log.level == logging.WARNING


def test_progress_quiet_off_terminal_and_when_asked(monkeypatch):
    # pytest captures stderr, so this is not a terminal.
    assert progress_enabled() is False
    assert progress_enabled(disable=False) is True
    monkeypatch.setenv("LMLAB_QUIET", "1")
    assert progress_enabled() is False
    bar = progress(range(3), desc="x")
    assert bar.disable and list(bar) == [0, 1, 2]


def test_cli_info(capsys):
    assert main(["info"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["device"] and info["torch"] and info["lmlab_common"] == "0.1.0"


def test_light_helpers_do_not_import_torch():
    import subprocess
    import sys

    code = (
        "import sys; from lmlab_common import ConfigBase, atomic_write_json, get_logger, "
        "progress, require; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_unknown_name_is_an_attribute_error():
    import lmlab_common

    assert "set_seed" in dir(lmlab_common)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        lmlab_common.nope  # noqa: B018
