import pytest
import torch
from lmlab_common import (
    find_linear_modules,
    linear_names,
    linear_shape,
    linear_weight,
    replace_module,
    tiny_causal_lm,
    tiny_encoder,
)
from torch import nn
from transformers.pytorch_utils import Conv1D


def test_bert_patterns_by_suffix_and_regex():
    model = tiny_encoder("bert", head="sequence_classification", num_layers=2, seed=0)
    found = find_linear_modules(model, ["query", "value"])
    assert list(found) == [
        "bert.encoder.layer.0.attention.self.query",
        "bert.encoder.layer.0.attention.self.value",
        "bert.encoder.layer.1.attention.self.query",
        "bert.encoder.layer.1.attention.self.value",
    ]
    regex = find_linear_modules(model, [r".*layer\.1\..*dense"])
    assert all(".layer.1." in name for name in regex) and len(regex) == 3
    everything = find_linear_modules(model, [".*"], exclude=["classifier", "pooler.dense"])
    assert "classifier" not in everything and "bert.pooler.dense" not in everything
    assert len(everything) == 2 * 6


def test_gpt2_conv1d_is_linear_with_out_in_shape():
    model = tiny_causal_lm("gpt2", hidden_size=32, num_heads=2, seed=0)
    found = find_linear_modules(model, ["c_attn"])
    module = next(iter(found.values()))
    assert isinstance(module, Conv1D)
    assert linear_shape(module) == (96, 32)
    x = torch.randn(5, 32)
    assert torch.allclose(module(x), x @ linear_weight(module).t() + module.bias, atol=1e-6)


def test_no_match_lists_candidates():
    model = tiny_causal_lm("llama", seed=0)
    with pytest.raises(ValueError, match=r"\['qkv'\] matched no linear layer.*q_proj"):
        find_linear_modules(model, ["q_proj", "qkv"])
    with pytest.raises(ValueError, match="patterns=\\[\\]"):
        find_linear_modules(model, [])


def test_replace_module_by_dotted_name():
    model = tiny_encoder("bert", seed=0)
    name = "encoder.layer.0.attention.self.query"
    new = nn.Identity()
    old = replace_module(model, name, new)
    assert isinstance(old, nn.Linear)
    assert model.get_submodule(name) is new
    assert name not in linear_names(model)
    with pytest.raises(ValueError, match="not a submodule"):
        replace_module(model, "encoder.layer.9.x", nn.Identity())
    with pytest.raises(ValueError, match="allowed: nn.Linear or Conv1D"):
        linear_weight(nn.ReLU())
