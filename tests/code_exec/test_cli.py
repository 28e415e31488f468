"""CLI verbs and the README example."""

import json
import re
import runpy
import sys
from pathlib import Path

import pytest
from code_exec.cli import main

README = Path(__file__).resolve().parents[2] / "packages" / "code-exec" / "README.md"


def test_help_lists_every_verb(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["code-exec", "--help"])
    with pytest.raises(SystemExit) as done:
        runpy.run_module("code_exec", run_name="__main__")  # what `python -m code_exec` runs
    assert done.value.code == 0
    out = capsys.readouterr().out
    for verb in ("trace", "mutate", "build-data", "train", "eval", "reproduce"):
        assert verb in out


def test_trace_and_eval_verbs(tmp_path, capsys):
    prog = tmp_path / "p.py"
    prog.write_text("a = 2\nprint(a * 3)\n")
    assert main(["trace", str(prog)]) == 0
    out = capsys.readouterr().out
    assert "status: ok" in out and "<output> 6" in out
    gold = out.splitlines()[1]
    (tmp_path / "g.txt").write_text(gold + "\n")
    (tmp_path / "p.txt").write_text(gold + "\n")
    assert main(["eval", str(tmp_path / "p.txt"), str(tmp_path / "g.txt")]) == 0
    assert json.loads(capsys.readouterr().out)["trace_acc"] == 100.0
    bad = tmp_path / "bad.py"
    bad.write_bytes(b"x = '\xff'\n")
    assert main(["trace", str(bad)]) == 2
    assert "UTF-8" in capsys.readouterr().err


def test_readme_example_runs(capsys):
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    exec(compile(code, "README", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "ok"
    assert out[1].startswith("<line> <0> <state> t : 0 </state>")
    assert any(line.startswith("error PermissionError") for line in out)
    assert out[-1] == "100.0"
