"""Unit tests for DSEE on tiny models: layer maths, support choice, training, save/load, merge."""

from __future__ import annotations

import pytest
import torch
from lmlab_common import tiny_causal_lm, tiny_encoder
from lowrank_sparse.dsee import (
    DSEEConfig,
    DSEELinear,
    apply_dsee,
    dsee_layers,
    greedy_lowrank_sparse,
    load_dsee,
    merge_dsee,
    parameter_report,
    save_dsee,
    select_support,
)
from torch import nn


def bert(seed: int = 0) -> nn.Module:
    model = tiny_encoder(
        "bert",
        head="sequence_classification",
        vocab_size=100,
        hidden_size=64,
        num_layers=2,
        num_heads=4,
        intermediate_size=128,
        max_position_embeddings=64,
        num_labels=3,
        seed=seed,
    )
    return model.eval()


def ids(seed: int = 0) -> torch.Tensor:
    return torch.randint(5, 100, (3, 12), generator=torch.Generator().manual_seed(seed))


def perturb(model: nn.Module, seed: int = 1) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in dsee_layers(model).values():
            layer.lora_B.copy_(torch.randn(layer.lora_B.shape, generator=g) * 0.1)
            layer.sparse_values.copy_(torch.randn(layer.sparse_values.shape, generator=g))


def test_config_round_trip_and_defaults(tmp_path):
    config = DSEEConfig(r=8, num_sparse=32, sparse_method="magnitude")
    assert DSEEConfig.from_json(config.to_json()) == config
    config.save_pretrained(tmp_path)
    assert DSEEConfig.from_pretrained(tmp_path) == config
    default = DSEEConfig()  # official: query and value of every self-attention
    adapted = dsee_layers(apply_dsee(bert(), default))
    assert sorted({n.rsplit(".", 1)[-1] for n in adapted}) == ["query", "value"]
    assert len(adapted) == 4  # 2 layers x (query, value)
    assert (default.r, default.lora_alpha, default.num_sparse) == (16, 32.0, 16)
    assert default.scale == 2.0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("r", 0),
        ("r", 2.5),
        ("lora_alpha", 0),
        ("num_sparse", -1),
        ("sparse_method", "svd"),
        ("target_modules", []),
        ("grebsmo_max_rank_ratio", 1.5),
        ("trainable_patterns", "classifier"),
    ],
)
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        DSEEConfig(**{field: value})


def test_layer_forward_matches_formula():
    torch.manual_seed(0)
    base = nn.Linear(6, 5)
    layer = DSEELinear(base, r=2, lora_alpha=4.0, sparse_index=torch.tensor([0, 7, 29]))
    with torch.no_grad():
        layer.lora_B.normal_()
        layer.sparse_values.copy_(torch.tensor([1.0, -2.0, 3.0]))
    s2 = torch.zeros(30)
    s2[[0, 7, 29]] = torch.tensor([1.0, -2.0, 3.0])
    expected_w = base.weight + 2.0 * (layer.lora_B @ layer.lora_A + s2.view(5, 6))
    x = torch.randn(4, 3, 6)
    torch.testing.assert_close(layer(x), x @ expected_w.T + base.bias)
    assert layer.trainable_entries() == 2 * (6 + 5) + 3


def test_layer_rejects_bad_rank_and_index():
    with pytest.raises(ValueError, match="r="):
        DSEELinear(nn.Linear(4, 3), r=4, lora_alpha=1.0, sparse_index=torch.tensor([0]))
    with pytest.raises(ValueError, match="sparse_index"):
        DSEELinear(nn.Linear(4, 3), r=1, lora_alpha=1.0, sparse_index=torch.tensor([12]))
    with pytest.raises(ValueError, match="base_layer"):
        DSEELinear(nn.Conv2d(1, 1, 1), r=1, lora_alpha=1.0, sparse_index=torch.tensor([0]))


def test_greedy_decomposition_recovers_sparse_outliers():
    g = torch.Generator().manual_seed(0)
    low = torch.randn(40, 3, generator=g) @ torch.randn(3, 30, generator=g) * 0.1
    spikes = torch.tensor([5, 101, 777, 1000])
    w = low.flatten().clone()
    w[spikes] += torch.tensor([3.0, -3.0, 2.5, -2.5])
    w = w.view(40, 30)
    parts = greedy_lowrank_sparse(w, iters=10, rank_step=1, max_rank=3, generator=g)
    assert parts.rank == 3
    rel = (w - parts.U @ parts.V - parts.S).norm() / w.norm()
    assert rel < 0.05
    got = select_support(w, 4, "grebsmo", grebsmo_rank_step=1, grebsmo_max_rank_ratio=0.1)
    assert got.tolist() == spikes.tolist()
    # magnitude picks the same spikes here; random does not
    assert select_support(w, 4, "magnitude").tolist() == spikes.tolist()
    rand = select_support(w, 4, "random", generator=torch.Generator().manual_seed(0))
    assert rand.tolist() != spikes.tolist() and len(set(rand.tolist())) == 4


def test_select_support_rejects_bad_input():
    with pytest.raises(ValueError, match="num_sparse"):
        select_support(torch.randn(3, 3), 10)
    with pytest.raises(ValueError, match="method"):
        select_support(torch.randn(3, 3), 1, "omp")
    with pytest.raises(ValueError, match="dtype"):
        greedy_lowrank_sparse(torch.ones(3, 3, dtype=torch.long))


def test_apply_keeps_outputs_and_freezes_backbone():
    model = bert()
    x = ids()
    ref = model(input_ids=x).logits
    apply_dsee(model, DSEEConfig(r=4, num_sparse=8))
    torch.testing.assert_close(model(input_ids=x).logits, ref)
    layers = dsee_layers(model)
    assert len(layers) == 4 and all(n.endswith(("query", "value")) for n in layers)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert all(n.startswith("classifier.") or "lora_" in n or "sparse_" in n for n in trainable)
    assert "classifier.weight" in trainable
    report = parameter_report(model)
    assert report.sparse == 4 * 8
    assert report.low_rank == 4 * 4 * (64 + 64)
    assert report.trainable == report.low_rank + report.sparse + 64 * 3 + 3
    assert report.total == sum(p.numel() for p in bert().parameters())


def test_training_step_changes_only_adapters_and_head():
    model = bert()
    apply_dsee(model, DSEEConfig(r=4, num_sparse=8))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    model.train()
    for _ in range(2):
        loss = model(input_ids=ids(), labels=torch.tensor([0, 1, 2])).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert any(n.endswith("lora_B") for n in changed)
    assert any(n.endswith("sparse_values") for n in changed)
    assert "classifier.weight" in changed
    assert all(n.startswith("classifier.") or "lora_" in n or "sparse_" in n for n in changed)


def test_apply_is_deterministic_under_seed():
    a = apply_dsee(bert(), DSEEConfig(r=2, num_sparse=5, seed=3))
    b = apply_dsee(bert(), DSEEConfig(r=2, num_sparse=5, seed=3))
    for (na, la), (_, lb) in zip(dsee_layers(a).items(), dsee_layers(b).items(), strict=True):
        assert torch.equal(la.lora_A, lb.lora_A), na
        assert torch.equal(la.sparse_index, lb.sparse_index), na


def test_apply_rejects_unmatched_pattern_and_double_apply():
    with pytest.raises(ValueError, match="matched no linear layer"):
        apply_dsee(bert(), DSEEConfig(target_modules=["q_proj"]))
    model = apply_dsee(bert(), DSEEConfig(r=2, num_sparse=2))
    with pytest.raises(ValueError, match="without DSEE"):
        apply_dsee(model, DSEEConfig(r=2, num_sparse=2))


def test_merge_gives_plain_model_with_same_outputs():
    model = apply_dsee(bert(), DSEEConfig(r=4, num_sparse=8))
    perturb(model)
    out = model(input_ids=ids()).logits
    merge_dsee(model)
    assert not dsee_layers(model)
    assert type(model.bert.encoder.layer[0].attention.self.query) is nn.Linear
    torch.testing.assert_close(model(input_ids=ids()).logits, out)


def test_save_load_round_trip(tmp_path):
    model = apply_dsee(bert(), DSEEConfig(r=4, num_sparse=8, sparse_method="grebsmo"))
    perturb(model)
    with torch.no_grad():
        model.classifier.weight.add_(1.0)
    out = model(input_ids=ids()).logits
    save_dsee(model, tmp_path)
    fresh = load_dsee(bert(), tmp_path)
    torch.testing.assert_close(fresh(input_ids=ids()).logits, out, rtol=0, atol=0)
    for name, layer in dsee_layers(fresh).items():
        assert torch.equal(layer.sparse_index, dsee_layers(model)[name].sparse_index)


def test_load_onto_wrong_base_names_layer(tmp_path):
    model = apply_dsee(bert(), DSEEConfig(r=2, num_sparse=2))
    save_dsee(model, tmp_path)
    other = tiny_encoder(
        "bert",
        head="sequence_classification",
        vocab_size=100,
        hidden_size=32,
        num_layers=2,
        num_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
        num_labels=3,
    )
    with pytest.raises(
        ValueError, match=r"layer 'bert\.encoder\.layer\.0\.attention\.self\.query'"
    ):
        load_dsee(other, tmp_path)


def test_gpt2_conv1d_layers_merge_exactly():
    model = tiny_causal_lm("gpt2", vocab_size=100, hidden_size=32, num_layers=2, num_heads=2)
    model.eval()
    x = ids()
    ref = model(input_ids=x).logits
    apply_dsee(model, DSEEConfig(target_modules=["c_attn"], r=2, num_sparse=4))
    torch.testing.assert_close(model(input_ids=x).logits, ref)
    perturb(model)
    out = model(input_ids=x).logits
    assert (out - ref).abs().max() > 1e-3
    merge_dsee(model)
    torch.testing.assert_close(model(input_ids=x).logits, out)


def test_train_bias_and_patterns_are_saved_and_loaded(tmp_path):
    config = DSEEConfig(r=2, num_sparse=4, train_bias=True, trainable_patterns=[r"^classifier\."])
    model = apply_dsee(bert(), config)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert "bert.encoder.layer.0.attention.self.query.base_layer.bias" in trainable
    assert "bert.pooler.dense.weight" not in trainable
    perturb(model)
    with torch.no_grad():
        model.bert.encoder.layer[1].attention.self.value.base_layer.bias.add_(0.5)
    out = model(input_ids=ids()).logits
    save_dsee(model, tmp_path)
    torch.testing.assert_close(load_dsee(bert(), tmp_path)(input_ids=ids()).logits, out)
