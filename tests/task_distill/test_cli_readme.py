import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from lmlab_common import tiny_encoder
from lmlab_common.testing import run_torchrun
from task_distill.cli import main
from task_distill.tasks import NuisanceTask

README = Path(__file__).resolve().parents[2] / "packages" / "task-distill" / "README.md"


def test_readme_example_runs(tmp_path, monkeypatch):
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert (tmp_path / "ted_out" / "final" / "filters" / "filters.safetensors").exists()
    assert scope["ted"].state.global_step == 2


def test_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "learn-filters" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["bogus"])
    assert exc.value.code == 2
    out = subprocess.run(
        [sys.executable, "-m", "task_distill", "distill", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--method" in out.stdout and "--kl-alpha" in out.stdout
    assert "--kl_alpha" in out.stdout  # the snake_case spelling stays accepted


def _models(tmp_path):
    task = NuisanceTask()
    t = tiny_encoder(
        "bert",
        "sequence_classification",
        vocab_size=task.vocab_size,
        hidden_size=32,
        num_layers=2,
        num_heads=2,
        seed=0,
    )
    s = tiny_encoder(
        "bert",
        "sequence_classification",
        vocab_size=task.vocab_size,
        hidden_size=16,
        num_layers=1,
        num_heads=2,
        seed=1,
    )
    t.save_pretrained(tmp_path / "teacher")
    s.save_pretrained(tmp_path / "student")
    return str(tmp_path / "teacher"), str(tmp_path / "student")


COMMON = [
    "--synthetic",
    "32",
    "--max-steps",
    "1",
    "--per-device-train-batch-size",
    "8",
    "--use-cpu",
    "--report-to",
    "none",
    "--save-strategy",
    "no",
]


def test_cli_learn_filters_then_ted(tmp_path, capsys):
    teacher, student = _models(tmp_path)
    tf, sf = str(tmp_path / "tf"), str(tmp_path / "sf")
    assert (
        main(
            [
                "learn-filters",
                "--model",
                teacher,
                "--other-model",
                student,
                "--role",
                "teacher",
                "--output_dir",
                tf,
                *COMMON,
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "learn-filters",
                "--model",
                student,
                "--other-model",
                teacher,
                "--role",
                "student",
                "--output_dir",
                sf,
                *COMMON,
            ]
        )
        == 0
    )
    assert json.loads((Path(tf) / "filters_config.json").read_text())["layers"] == [2]
    out = str(tmp_path / "ted")
    assert (
        main(
            [
                "distill",
                "--method",
                "ted",
                "--teacher",
                teacher,
                "--student",
                student,
                "--teacher-filters",
                tf,
                "--student_filters",
                sf,
                "--output_dir",
                out,
                *COMMON,
            ]
        )
        == 0
    )
    assert os.path.exists(os.path.join(out, "filters", "filters.safetensors"))
    assert (
        main(
            [
                "distill",
                "--method",
                "ted",
                "--teacher",
                teacher,
                "--student",
                student,
                "--output_dir",
                out,
                *COMMON,
            ]
        )
        == 2
    )
    assert "teacher-filters" in capsys.readouterr().err
    assert (
        main(
            [
                "distill",
                "--method",
                "xx",
                "--teacher",
                teacher,
                "--student",
                student,
                "--output_dir",
                out,
                *COMMON,
            ]
        )
        == 2
    )
    assert "allowed: ted, kd, lwd" in capsys.readouterr().err


@pytest.mark.slow  # the CLI under torchrun; test_distributed.py covers all trainers per run
def test_torchrun_two_process_gloo(tmp_path):
    teacher, student = _models(tmp_path)
    out = tmp_path / "lwd"
    argv = ["-m", "task_distill", "distill", "--method", "lwd", "--teacher", teacher,
            "--student", student, "--output-dir", str(out), "--ddp-backend", "gloo",
            "--logging-steps", "1", *COMMON]  # fmt: skip
    argv[argv.index("--max-steps") + 1] = "3"
    proc = run_torchrun(argv, nproc=2)
    losses = re.findall(r'"train_loss": ([0-9.e+-]+)', proc.stdout)
    assert len(losses) == 2 and losses[0] == losses[1]  # both ranks, same synced result
    assert (out / "filters" / "filters.safetensors").exists()
