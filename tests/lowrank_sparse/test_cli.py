import json
import subprocess
import sys

import pytest
import torch
from lmlab_common import tiny_encoder, train_tokenizer
from lowrank_sparse import compression_report, load_losparse
from lowrank_sparse.cli import build_parser, main


def test_help_lists_verbs(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert all(verb in out for verb in ("compress", "report", "reproduce"))
    assert "reproduce" in build_parser().subparsers.choices


def test_python_dash_m_help():
    proc = subprocess.run(
        [sys.executable, "-m", "lowrank_sparse", "--help"], capture_output=True, text=True
    )
    assert proc.returncode == 0 and "compress" in proc.stdout


@pytest.fixture
def tiny_dir(tmp_path):
    texts = [f"the cat number {i} sat on the mat near the dog" for i in range(50)]
    tok = train_tokenizer(texts, vocab_size=200)
    model = tiny_encoder("bert", vocab_size=len(tok), seed=0)
    model.save_pretrained(tmp_path / "base")
    tok.save_pretrained(tmp_path / "base")
    (tmp_path / "s.txt").write_text("\n".join(texts))
    return tmp_path


@pytest.mark.parametrize("steps", [0, 20])
def test_compress_then_report(tiny_dir, capsys, steps):
    out = tiny_dir / f"out{steps}"
    code = main(
        [
            "compress",
            str(tiny_dir / "base"),
            str(out),
            "--budget",
            "0.3",
            "--steps",
            str(steps),
            "--batch-size",
            "4",
            "--sentences",
            str(tiny_dir / "s.txt"),
        ]
    )
    assert code == 0
    model = load_losparse(None, out)
    assert compression_report(model).ratio == pytest.approx(0.3, abs=0.01)
    ids = torch.randint(5, 15, (2, 6))
    assert model(input_ids=ids).last_hidden_state.shape == (2, 6, 64)
    capsys.readouterr()
    assert main(["report", str(out), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ratio"] == pytest.approx(0.3, abs=0.01) and len(data["layers"]) == 12


def test_bad_budget_is_a_clean_error(tiny_dir, capsys):
    code = main(["compress", str(tiny_dir / "base"), str(tiny_dir / "x"), "--budget", "1.5"])
    assert code == 2 and "budget=1.5 is invalid" in capsys.readouterr().err
