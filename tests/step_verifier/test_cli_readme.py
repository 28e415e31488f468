import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from lmlab_common import tiny_encoder
from step_verifier import SyntheticTask, save_problems, synthetic_tokenizer
from step_verifier.cli import main

README = Path(__file__).resolve().parents[2] / "packages" / "step-verifier" / "README.md"


def test_readme_example_runs(tmp_path, monkeypatch):
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert (tmp_path / "verifier_out" / "final" / "verifier_config.json").exists()
    assert set(scope["report"].accuracy) == {"majority_vote", "recall", "verifier_top1",
                                             "weighted_vote"}  # fmt: skip


def test_help_and_bad_input(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "reproduce" in capsys.readouterr().out
    out = subprocess.run([sys.executable, "-m", "step_verifier", "train", "--help"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert "--alpha" in out.stdout
    assert main(["vote", "--problems", str(tmp_path / "missing.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err
    problems = SyntheticTask(seed=0).problems(3, paths=0)
    save_problems(tmp_path / "empty.jsonl", problems)
    assert main(["vote", "--problems", str(tmp_path / "empty.jsonl")]) == 2
    assert "at least one sampled path" in capsys.readouterr().err


def test_label_train_vote_cli(tmp_path, capsys):
    problems = SyntheticTask(seed=0).problems(8, paths=5)
    save_problems(tmp_path / "p.jsonl", problems)
    assert main(["label", "--problems", str(tmp_path / "p.jsonl"),
                 "--out", str(tmp_path / "prm.jsonl")]) == 0  # fmt: skip
    rows = [json.loads(x) for x in (tmp_path / "prm.jsonl").read_text().splitlines()]
    assert len(rows) == 40 and set(rows[0]) == {"prompt", "completions", "labels"}
    tok = synthetic_tokenizer()
    enc = tiny_encoder("bert", "token_classification", vocab_size=len(tok), hidden_size=32,
                       num_layers=1, num_heads=2, num_labels=5, seed=0)  # fmt: skip
    enc.save_pretrained(tmp_path / "enc")
    tok.save_pretrained(tmp_path / "enc")
    assert main(["train", "--model", str(tmp_path / "enc"), "--problems", str(tmp_path / "p.jsonl"),
                 "--output-dir", str(tmp_path / "v"), "--max-steps", "2", "--use-cpu",
                 "--learning-rate", "1e-3"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["vote", "--problems", str(tmp_path / "p.jsonl"), "--verifier",
                 str(tmp_path / "v" / "final"), "--k", "1,5"]) == 0  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert set(report["accuracy"]["weighted_vote"]) == {"1", "5"}
    assert main(["vote", "--problems", str(tmp_path / "p.jsonl"), "--k", "6"]) == 2
    assert "k=6" in capsys.readouterr().err


def test_reproduce_quick(tmp_path):
    assert main(["reproduce", "--quick", "--seeds", "1", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "step-verifier.json").read_text())
    assert data["runs"][0]["seed"] == 0 and "alpha=0.1" in data["runs"][0]
    assert "weighted vote" in (tmp_path / "step-verifier.md").read_text()
    assert (tmp_path / "step-verifier-accuracy.svg").exists()
