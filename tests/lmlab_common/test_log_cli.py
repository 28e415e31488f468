import json
import logging

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
