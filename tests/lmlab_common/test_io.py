import json
import os

import pytest
import torch
from lmlab_common import (
    atomic_write,
    atomic_write_json,
    atomic_write_text,
    load_tensors,
    save_tensors,
)


def test_atomic_write_replaces_whole_file(tmp_path):
    path = tmp_path / "sub" / "a.txt"
    atomic_write_text(path, "one")
    atomic_write_text(path, "two")
    assert path.read_text() == "two"
    assert os.listdir(path.parent) == ["a.txt"]


def test_failed_write_leaves_old_file_and_no_temp(tmp_path):
    path = tmp_path / "a.txt"
    atomic_write_text(path, "old")
    with pytest.raises(RuntimeError), atomic_write(path) as fh:
        fh.write("half")
        raise RuntimeError("killed")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_atomic_write_json_and_bad_mode(tmp_path):
    atomic_write_json(tmp_path / "x.json", {"b": 1, "a": [1, 2]})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": [1, 2], "b": 1}
    with pytest.raises(ValueError, match="mode='a'"), atomic_write(tmp_path / "y", "a"):
        pass


def test_safetensors_round_trip(tmp_path):
    tensors = {"w": torch.randn(3, 4).t(), "idx": torch.arange(5)}
    save_tensors(tensors, tmp_path / "t.safetensors", metadata={"k": "v"})
    back = load_tensors(tmp_path / "t.safetensors")
    assert set(back) == {"w", "idx"}
    assert torch.equal(back["w"], tensors["w"]) and torch.equal(back["idx"], tensors["idx"])
    assert [p.name for p in tmp_path.iterdir()] == ["t.safetensors"]


def test_safetensors_bad_input(tmp_path):
    with pytest.raises(ValueError, match=r"tensors\['a'\] is not a torch.Tensor"):
        save_tensors({"a": [1, 2]}, tmp_path / "t.safetensors")
    with pytest.raises(FileNotFoundError, match="no safetensors file"):
        load_tensors(tmp_path / "none.safetensors")
