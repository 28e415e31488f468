"""DSEE stage 2 on tiny models: unstructured masks of the final weight, physical head removal."""

from __future__ import annotations

import pytest
import torch
from lmlab_common import tiny_encoder
from lowrank_sparse.dsee import (
    DSEEConfig,
    apply_dsee,
    dsee_layers,
    dsee_state,
    head_scores,
    linear_macs,
    load_dsee,
    merge_dsee,
    prune_dsee,
    prune_heads,
    prune_unstructured,
    save_dsee,
)
from torch import nn


def bert() -> nn.Module:
    return tiny_encoder(
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
    ).eval()


def ids() -> torch.Tensor:
    return torch.randint(5, 100, (3, 12), generator=torch.Generator().manual_seed(0))


def adapted(seed: int = 1) -> nn.Module:
    model = apply_dsee(bert(), DSEEConfig(r=4, num_sparse=8))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in dsee_layers(model).values():
            layer.lora_B.copy_(torch.randn(layer.lora_B.shape, generator=g) * 0.1)
            layer.sparse_values.copy_(torch.randn(layer.sparse_values.shape, generator=g))
    return model


def test_unstructured_masks_final_weights_globally():
    model = adapted()
    adapted_frac, other_frac = prune_unstructured(model, 0.4, score="final")
    assert adapted_frac == pytest.approx(0.4, abs=1e-3)
    assert other_frac == pytest.approx(0.4, abs=1e-3)
    layers = dsee_layers(model)
    kept_min = min(
        (m.weight + m.delta_weight()).abs()[m.weight_mask].min().item() for m in layers.values()
    )
    cut_max = max(
        (m.weight + m.delta_weight()).abs()[~m.weight_mask].max().item() for m in layers.values()
    )
    assert cut_max <= kept_min  # one global threshold across layers
    for layer in layers.values():
        assert torch.all(layer.effective_weight()[~layer.weight_mask] == 0)
    key = model.bert.encoder.layer[0].attention.self.key.weight
    assert 0.2 < (key == 0).float().mean().item() < 0.6  # other group pruned in place
    out = model(input_ids=ids()).logits
    merge_dsee(model)
    torch.testing.assert_close(model(input_ids=ids()).logits, out)
    q = model.bert.encoder.layer[0].attention.self.query.weight
    assert (q == 0).float().mean().item() > 0.2  # merged weights are really sparse


def test_unstructured_scores_differ_and_masks_accumulate():
    a, b = adapted(), adapted()
    prune_unstructured(a, 0.3, score="delta", other_modules=())
    prune_unstructured(b, 0.3, score="weight", other_modules=())
    la, lb = list(dsee_layers(a).values()), list(dsee_layers(b).values())
    assert any(not torch.equal(x.weight_mask, y.weight_mask) for x, y in zip(la, lb, strict=True))
    first = [m.weight_mask.clone() for m in la]
    prune_unstructured(a, 0.5, score="final", other_modules=())
    for old, layer in zip(first, la, strict=True):
        assert not torch.any(layer.weight_mask & ~old)  # pruned entries stay pruned
    frac = sum(int((~m.weight_mask).sum()) for m in la) / sum(m.weight.numel() for m in la)
    assert frac == pytest.approx(0.5, abs=1e-3)


def test_unstructured_rejects_bad_input():
    with pytest.raises(ValueError, match="sparsity"):
        prune_unstructured(adapted(), 1.0)
    with pytest.raises(ValueError, match="score"):
        prune_unstructured(adapted(), 0.1, score="ABS")
    with pytest.raises(ValueError, match="DSEE"):
        prune_unstructured(bert(), 0.1)


def test_head_scores_follow_delta_and_lowest_heads_are_removed():
    model = adapted()
    attn = model.bert.encoder.layer[0].attention.self
    with torch.no_grad():  # make head 2 of layer 0 carry no update at all
        for layer in (attn.query, attn.value):
            layer.lora_B[32:48] = 0
            rows = layer.sparse_index // 64
            layer.sparse_values[(rows >= 32) & (rows < 48)] = 0
    scores = head_scores(model)
    assert scores["bert.encoder.layer.0.attention.self"].argmin().item() == 2
    plan = prune_heads(model, 1)
    assert plan["bert.encoder.layer.0.attention.self"] == [2]


def test_head_removal_is_physical_and_matches_masking():
    model = adapted()
    x = ids()
    # reference: zero head 1's rows of q, k, v and its output columns in a merged copy
    ref_model = adapted()
    merge_dsee(ref_model)
    with torch.no_grad():
        for layer in ref_model.bert.encoder.layer:
            sa = layer.attention.self
            for proj in (sa.query, sa.key, sa.value):
                proj.weight[16:32] = 0
                proj.bias[16:32] = 0
            layer.attention.output.dense.weight[:, 16:32] = 0
    ref = ref_model(input_ids=x).logits
    macs = linear_macs(model)
    from lowrank_sparse.dsee import remove_heads

    remove_heads(model, {f"bert.encoder.layer.{i}.attention.self": [1] for i in range(2)})
    torch.testing.assert_close(model(input_ids=x).logits, ref)
    sa = model.bert.encoder.layer[0].attention.self
    assert sa.query.shape == (48, 64) and sa.key.weight.shape == (48, 64)
    assert sa.num_attention_heads == 3
    assert model.bert.encoder.layer[0].attention.output.dense.weight.shape == (64, 48)
    assert linear_macs(model) == macs - 2 * 4 * 16 * 64
    assert dsee_state(model).pruned_heads["bert.encoder.layer.1.attention.self"] == [1]


def test_prune_dsee_then_train_save_load_merge(tmp_path):
    model = adapted()
    report = prune_dsee(model, sparsity=0.2, heads_per_layer=1)
    assert report.macs_saved > 0.1
    assert all(len(v) == 1 for v in report.heads_removed.values())
    # a training step after pruning works and respects the masks
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model.train()
    model(input_ids=ids(), labels=torch.tensor([0, 1, 0])).loss.backward()
    opt.step()
    model.eval()
    for layer in dsee_layers(model).values():
        assert torch.all(layer.effective_weight()[~layer.weight_mask] == 0)
    out = model(input_ids=ids()).logits
    save_dsee(model, tmp_path)
    loaded = load_dsee(bert(), tmp_path)
    torch.testing.assert_close(loaded(input_ids=ids()).logits, out, rtol=0, atol=0)
    assert loaded.bert.encoder.layer[1].attention.self.num_attention_heads == 3
    merge_dsee(loaded)
    torch.testing.assert_close(loaded(input_ids=ids()).logits, out)


def test_prune_heads_rejects_bad_input():
    with pytest.raises(ValueError, match="heads_per_layer"):
        prune_heads(adapted(), 4)
    with pytest.raises(ValueError, match="query/value"):
        prune_heads(apply_dsee(bert(), DSEEConfig(target_modules=["key"], r=2)), 1)


def test_unstructured_then_heads_save_load(tmp_path):
    model = adapted()
    prune_unstructured(model, 0.3)
    prune_heads(model, 1)
    out = model(input_ids=ids()).logits
    dense = model.bert.encoder.layer[0].attention.output.dense
    mask = dsee_state(model).masks["bert.encoder.layer.0.attention.output.dense"]
    assert mask.shape == dense.weight.shape
    assert torch.all(dense.weight[~mask] == 0)
    save_dsee(model, tmp_path)
    torch.testing.assert_close(load_dsee(bert(), tmp_path)(input_ids=ids()).logits, out)
