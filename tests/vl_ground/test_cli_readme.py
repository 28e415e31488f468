import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from vl_ground.cli import main

README = Path(__file__).resolve().parents[2] / "packages" / "vl-ground" / "README.md"


def test_readme_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README has no python example"
    namespace: dict = {}
    exec(compile(blocks[0], str(README), "exec"), namespace)
    assert len(namespace["boxes"]) == 2 and namespace["boxes"][0].box is not None
    assert isinstance(namespace["answers"][0], str)


def test_cli_make_data_pretrain_predict(tmp_path, capsys):
    data, model = tmp_path / "data", tmp_path / "model"
    assert main(["make-data", "--out", str(data), "--n", "16", "--seed", "1"]) == 0
    lines = (data / "examples.jsonl").read_text().splitlines()
    assert len(lines) == 16 and json.loads(lines[0])["image"].endswith(".png")
    args = [
        "pretrain",
        "--data",
        str(data),
        "--out",
        str(model),
        "--max-steps",
        "2",
        "--batch-size",
        "4",
        "--hidden-size",
        "32",
        "--num-layers",
        "1",
    ]
    assert main(args) == 0
    assert (model / "config.json").exists() and (model / "grill_processor.json").exists()
    capsys.readouterr()
    image = str(data / "images" / "000000.png")
    assert (
        main(
            [
                "predict",
                "--model",
                str(model),
                "--task",
                "ground",
                "--images",
                image,
                "--text",
                "the red circle",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert len(out["ground"]["box"]) == 4


def test_cli_bad_input_is_one_line(tmp_path, capsys):
    assert main(["pretrain", "--data", str(tmp_path / "none"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vl-ground: error: no examples file at") and err.count("\n") == 1
    assert main(["predict", "--model", str(tmp_path), "--task", "segment", "--images", "x"]) == 2
    assert "--task='segment' is invalid" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--help"], ["reproduce", "--help"]])
def test_help(argv):
    proc = subprocess.run(
        [sys.executable, "-m", "vl_ground", *argv], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0 and "usage: vl-ground" in proc.stdout
