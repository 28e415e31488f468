import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from bidir_lm import BidirectionalLM
from bidir_lm.cli import main

README = Path(__file__).resolve().parents[2] / "packages" / "bidir-lm" / "README.md"


def test_readme_example_runs(tmp_path, monkeypatch):
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert (tmp_path / "mim_out" / "final" / "bidir_config.json").exists()
    assert scope["trainer"].state.global_step == 20
    assert scope["result"].method == "mim" and len(scope["result"].middle_ids) <= 8


def test_help(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0 and "reproduce" in capsys.readouterr().out
    out = subprocess.run(
        [sys.executable, "-m", "bidir_lm", "train", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--method" in out.stdout and "--stop-gradient" in out.stdout


def test_cli_train_resume_and_infill(tmp_path, capsys):
    out = str(tmp_path / "run")
    common = [
        "train",
        "--method",
        "mim",
        "--synthetic",
        "32",
        "--batch-size",
        "8",
        "--output-dir",
        out,
        "--use-cpu",
        "--quiet",
        "--save-steps",
        "1",
        "--hidden-size",
        "16",
        "--num-layers",
        "1",
        "--num-heads",
        "2",
    ]
    assert main([*common, "--max-steps", "1"]) == 0
    assert (
        main(
            [
                *common,
                "--max-steps",
                "2",
                "--resume-from-checkpoint",
                str(tmp_path / "run" / "checkpoint-1"),
            ]
        )
        == 0
    )
    out_lines = capsys.readouterr().out.strip().splitlines()
    lines = [json.loads(x) for x in out_lines if x.startswith('{"')]
    assert lines[-1]["steps"] == 2
    assert BidirectionalLM.from_pretrained(out).bidir_config.method == "mim"
    assert (
        main(
            [
                "infill",
                "--model",
                out,
                "--prefix",
                "a = 1 ; b = 2 ;",
                "--suffix",
                "print c ;",
                "--max-new-tokens",
                "6",
            ]
        )
        == 0
    )
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["method"] == "mim" and row["steps"] <= 6
    assert (
        main(
            [
                "infill",
                "--model",
                out,
                "--prefix",
                "a = 1 ;",
                "--suffix",
                "print c ;",
                "--method",
                "fim",
                "--max-new-tokens",
                "4",
            ]
        )
        == 0
    )
    base = ["infill", "--model", out, "--prefix", "a = 1 ;", "--suffix", "print c ;"]
    assert main([*base, "--max-new-tokens", "4", "--min-new-tokens", "3"]) == 0
    capsys.readouterr()
    assert main([*base, "--max-new-tokens", "4", "--min-new-tokens", "5"]) == 2
    assert "min_new_tokens=5 is invalid; allowed: at most max_new_tokens=4" in (
        capsys.readouterr().err
    )


def test_cli_bad_input_is_one_line(tmp_path, capsys):
    base = ["train", "--synthetic", "8", "--output-dir", str(tmp_path), "--use-cpu"]
    assert main([*base, "--beta", "-1"]) == 2
    assert "bidir-lm: error: beta=-1.0 is invalid" in capsys.readouterr().err
    assert main(["train", "--output-dir", str(tmp_path)]) == 2
    assert "exactly one of --train-file" in capsys.readouterr().err
    assert main(["infill", "--model", str(tmp_path / "nope"), "--prefix", "a"]) == 2
    assert "is not a folder" in capsys.readouterr().err
