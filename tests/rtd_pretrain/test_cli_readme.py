import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from rtd_pretrain.cli import main
from transformers import AutoModel

README = Path(__file__).resolve().parents[2] / "packages" / "rtd-pretrain" / "README.md"


def test_readme_example_runs(tmp_path, monkeypatch):
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["trainer"].state.global_step == 4
    plain = AutoModel.from_pretrained(tmp_path / "rtd-out" / "discriminator").eval()
    batch = scope["batch"]
    rtd = scope["model"].eval()
    with torch.no_grad():
        ours = rtd.discriminator.deberta(**batch).last_hidden_state
        assert torch.equal(plain(**batch).last_hidden_state, ours)


def test_help_and_bad_input(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    assert "reproduce" in capsys.readouterr().out
    out = subprocess.run([sys.executable, "-m", "rtd_pretrain", "train", "--help"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert "--embedding-sharing" in out.stdout and "--rtd-lambda" in out.stdout
    (tmp_path / "empty.txt").write_text("\n\n")
    code = main(["train", "--corpus", str(tmp_path / "empty.txt"), "--output-dir",
                 str(tmp_path / "o")])  # fmt: skip
    assert code == 2 and "is empty" in capsys.readouterr().err
    (tmp_path / "c.txt").write_text("a b c d e f g\n" * 20)
    code = main(["train", "--corpus", str(tmp_path / "c.txt"), "--output-dir",
                 str(tmp_path / "o"), "--rtd-lambda", "0"])  # fmt: skip
    assert code == 2 and "rtd_lambda=0.0 is invalid" in capsys.readouterr().err


def test_cli_train_then_export(tmp_path, capsys, corpus):
    (tmp_path / "corpus.txt").write_text("\n".join(corpus.sentences(60)))
    out = tmp_path / "run"
    code = main(["train", "--corpus", str(tmp_path / "corpus.txt"), "--output-dir", str(out),
                 "--hidden-size", "16", "--num-layers", "2", "--num-heads", "2",
                 "--block-size", "32", "--max-steps", "2", "--batch-size", "4", "--use-cpu",
                 "--backend", "electra", "--embedding-sharing", "es"])  # fmt: skip
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["global_step"] == 2
    assert (out / "discriminator" / "config.json").exists()
    assert main(["export", "--checkpoint", str(out), "--out", str(tmp_path / "exp")]) == 0
    gen = AutoModel.from_pretrained(tmp_path / "exp" / "generator")
    disc = AutoModel.from_pretrained(tmp_path / "exp" / "discriminator")
    # ES: the discriminator was exported with its own copy of the shared table
    assert torch.equal(gen.get_input_embeddings().weight, disc.get_input_embeddings().weight)
    assert main(["export", "--checkpoint", str(tmp_path / "nothing"), "--out", "x"]) == 2
