import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from lmlab_common import tiny_encoder
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
    assert main(["--help"]) == 0
    assert "learn-filters" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["bogus"])
    out = subprocess.run(
        [sys.executable, "-m", "task_distill", "distill", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--method" in out.stdout and "--kl_alpha" in out.stdout


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
    "--max_steps",
    "1",
    "--per_device_train_batch_size",
    "8",
    "--use_cpu",
    "--report_to",
    "none",
    "--save_strategy",
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
                "--other_model",
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
                "--other_model",
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
                "--teacher_filters",
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
    with pytest.raises(SystemExit, match="teacher_filters"):
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
    with pytest.raises(SystemExit, match="allowed: ted, kd, lwd"):
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


@pytest.mark.slow  # ~25 s idle, ~70 s on a loaded machine: kept out of the CI budget
def test_torchrun_two_process_gloo(tmp_path):
    teacher, student = _models(tmp_path)
    out = tmp_path / "lwd"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        "29613",
        "-m",
        "task_distill",
        "distill",
        "--method",
        "lwd",
        "--teacher",
        teacher,
        "--student",
        student,
        "--output_dir",
        str(out),
        "--ddp_backend",
        "gloo",
        "--logging_steps",
        "1",
        *COMMON,
    ]
    cmd[cmd.index("--max_steps") + 1] = "3"
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    losses = re.findall(r'"train_loss": ([0-9.e+-]+)', proc.stdout)
    assert len(losses) == 2 and losses[0] == losses[1]  # both ranks, same synced result
    assert (out / "filters" / "filters.safetensors").exists()
