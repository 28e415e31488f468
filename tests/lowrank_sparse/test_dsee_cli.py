"""DSEE CLI verbs and the README's DSEE usage example (run as written)."""

from __future__ import annotations

import argparse
import json
import os
import re

import pytest
import torch
from lmlab_common import tiny_encoder
from lowrank_sparse.dsee import dsee_layers, load_dsee
from lowrank_sparse.dsee.cli import add_dsee_commands, main
from transformers import AutoModelForSequenceClassification

README = os.path.join(
    os.path.dirname(__file__), "..", "..", "packages", "lowrank-sparse", "README.md"
)


def test_readme_example_runs():
    with open(README, encoding="utf-8") as fh:
        text = fh.read().split("## DSEE", 1)[1]
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "the README's DSEE section has no python example"
    namespace: dict = {}
    exec(compile(blocks[0], "README.md (DSEE)", "exec"), namespace)  # noqa: S102
    assert namespace["report"].fraction < 0.1
    model, plain, batch = namespace["model"].eval(), namespace["plain"].eval(), namespace["batch"]
    torch.testing.assert_close(plain(input_ids=batch).logits, model(input_ids=batch).logits)


def test_help_lists_verbs(capsys):
    parser = argparse.ArgumentParser(prog="x")
    add_dsee_commands(parser.add_subparsers(dest="command"))
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    out = capsys.readouterr().out
    for verb in ("dsee-apply", "dsee-prune", "dsee-merge"):
        assert verb in out


def test_apply_prune_merge_round_trip(tmp_path, capsys):
    base = tiny_encoder(
        "bert",
        head="sequence_classification",
        vocab_size=100,
        hidden_size=64,
        num_layers=2,
        num_heads=4,
        intermediate_size=128,
        max_position_embeddings=64,
        num_labels=2,
        seed=0,
    )
    base_dir = str(tmp_path / "base")
    base.save_pretrained(base_dir)
    adapter, pruned, merged = (str(tmp_path / n) for n in ("adapter", "pruned", "merged"))
    assert main(["dsee-apply", base_dir, "--output", adapter, "--r", "4", "--num-sparse", "8"]) == 0
    assert "trainable" in json.loads(capsys.readouterr().out)["report"]
    args = ["dsee-prune", base_dir, "--adapter", adapter, "--output", pruned, "--sparsity", "0.3"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["adapted_sparsity"] == pytest.approx(0.3, abs=1e-3)
    assert main(["dsee-merge", base_dir, "--adapter", pruned, "--output", merged]) == 0
    model = load_dsee(AutoModelForSequenceClassification.from_pretrained(base_dir), pruned)
    assert len(dsee_layers(model)) == 4
    plain = AutoModelForSequenceClassification.from_pretrained(merged).eval()
    x = torch.randint(5, 100, (2, 9), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(plain(input_ids=x).logits, model.eval()(input_ids=x).logits)
    # the same loader shape as load_losparse: a base path, or None (the recorded base path)
    for base in (base_dir, None):
        again = load_dsee(base, pruned).eval()
        torch.testing.assert_close(again(input_ids=x).logits, model(input_ids=x).logits)


def test_bad_sparsity_is_a_clear_error(tmp_path, capsys):
    base = tiny_encoder("bert", head="sequence_classification", vocab_size=100, hidden_size=32)
    base.save_pretrained(tmp_path / "base")
    main(["dsee-apply", str(tmp_path / "base"), "--output", str(tmp_path / "a"), "--r", "2"])
    capsys.readouterr()
    code = main(
        ["dsee-prune", str(tmp_path / "base"), "--adapter", str(tmp_path / "a")]
        + ["--output", str(tmp_path / "p"), "--sparsity", "1.5"]
    )
    assert code == 2 and "sparsity=1.5 is invalid" in capsys.readouterr().err
