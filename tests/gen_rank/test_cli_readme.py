import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from gen_rank.cli import main

README = Path(__file__).resolve().parents[2] / "packages" / "gen-rank" / "README.md"


def test_readme_example_runs(tmp_path, monkeypatch):
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert (tmp_path / "jgr_out" / "final" / "ranker" / "ranker_config.json").exists()
    assert scope["trainer"].state.global_step == 4
    assert len(scope["results"]) == 2 and scope["results"][0].chosen


def test_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for verb in ("warmup-ranker", "train", "generate", "reproduce"):
        assert verb in out
    out = subprocess.run(
        [sys.executable, "-m", "gen_rank", "train", "--help"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "--iteration-ranker-steps" in out and "--mask-pad-after-eos" in out


def _save_models(tmp_path, tok, make_generator, make_ranker):
    g, r = make_generator(), make_ranker()
    g.save_pretrained(tmp_path / "g")
    tok.save_pretrained(tmp_path / "g")
    r.save_pretrained(tmp_path / "r")
    tok.save_pretrained(tmp_path / "r")
    return str(tmp_path / "g"), str(tmp_path / "r")


COMMON = ["--synthetic", "8", "--per-device-train-batch-size", "4", "--use-cpu",
          "--report-to", "none", "--save-strategy", "no", "--max-new-tokens", "8",
          "--disable-tqdm", "true"]  # fmt: skip


def test_cli_warmup_train_generate(tmp_path, tok, capsys, make_generator, make_ranker):
    g, r = _save_models(tmp_path, tok, make_generator, make_ranker)
    warm = str(tmp_path / "warm")
    assert main(["warmup-ranker", "--generator", g, "--ranker", r, "--output-dir", warm,
                 "--max-steps", "1", "--num-beams", "2", "--num-samples", "2",
                 "--num-cand-generated", "4", *COMMON]) == 0  # fmt: skip
    jgr = str(tmp_path / "jgr")
    assert main(["train", "--generator", f"{warm}/generator", "--ranker", f"{warm}/ranker",
                 "--output-dir", jgr, "--max-steps", "2", "--iteration-steps", "2",
                 "--iteration-ranker-steps", "1", "--generator-num-cand-generated", "2",
                 "--num-cand-generated", "3", *COMMON]) == 0  # fmt: skip
    src = tmp_path / "src.txt"
    src.write_text("1 + 2 + 3 + 4\n5 + 6 + 7 + 8\n")
    out = tmp_path / "out.jsonl"
    assert main(["generate", "--model", jgr, "--input", str(src), "--output", str(out),
                 "--num-candidates", "3", "--max-new-tokens", "6"]) == 0  # fmt: skip
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 2 and len(rows[0]["candidates"]) == 3


def test_cli_errors(tmp_path, tok, capsys, make_generator, make_ranker):
    g, r = _save_models(tmp_path, tok, make_generator, make_ranker)
    code = main(["train", "--generator", g, "--ranker", r, "--output-dir", str(tmp_path / "o"),
                 "--num-cand-generated", "2", "--num-cand-picked", "3", *COMMON])  # fmt: skip
    assert code == 2 and "num_cand_picked" in capsys.readouterr().err
    code = main(["train", "--generator", str(tmp_path / "missing"), "--ranker", r,
                 "--output-dir", str(tmp_path / "o"), *COMMON])  # fmt: skip
    assert code == 2 and "missing" in capsys.readouterr().err
    code = main(["generate", "--model", str(tmp_path), "--input", "x"])
    assert code == 2 and "generator" in capsys.readouterr().err
