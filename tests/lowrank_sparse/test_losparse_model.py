import json

import pytest
import torch
from lowrank_sparse import (
    LoSparseConfig,
    LoSparseLinear,
    LoSparsePruner,
    apply_losparse,
    apply_low_rank_only,
    apply_prune_only,
    budget_config,
    compact,
    compression_report,
    load_losparse,
    losparse_config,
    losparse_layers,
    merge_losparse,
    save_losparse,
)
from transformers.pytorch_utils import Conv1D

# Expected replaced layers per family (embeddings, pooler, classifier and LM head stay dense).
EXPECTED = {"bert": 12, "deberta-v2": 12, "gpt2": 8, "llama": 14, "bart": 32, "t5": 32}


@pytest.mark.parametrize("family", list(EXPECTED))
def test_apply_preserves_outputs_on_every_family(family, h):
    model = h.make_model(family)
    inputs = h.model_inputs(model)
    before = h.logits(model, inputs)
    apply_losparse(model, LoSparseConfig(low_rank_ratio=0.2))
    layers = losparse_layers(model)
    assert len(layers) == EXPECTED[family]
    assert not any(k in n for n in layers for k in ("classifier", "pooler", "lm_head", "embed"))
    torch.testing.assert_close(h.logits(model, inputs), before, atol=1e-4, rtol=1e-4)


def _prune(h, model, steps=6):
    """A few real training steps with the pruner, ending in the final phase."""
    config = losparse_config(model).replace(
        warmup_steps=1, initial_warmup=1, final_warmup=2, delta_t=1
    )
    pruner = LoSparsePruner(model, config, total_steps=steps)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    inputs = h.model_inputs(model)
    model.train()
    for _ in range(steps):
        out = model(**inputs)
        (out.logits if hasattr(out, "logits") else out.last_hidden_state).pow(2).mean().backward()
        opt.step()
        pruner.step()
        opt.zero_grad()
    return model.eval()


@pytest.mark.parametrize("family", ["bert", "gpt2", "llama"])
def test_compact_save_load_merge_identical(tmp_path, family, h):
    model = h.make_model(family)
    apply_losparse(model, budget_config(0.4, low_rank_ratio=0.1))
    _prune(h, model)
    inputs = h.model_inputs(model)
    trained = h.logits(model, inputs)
    report = compression_report(model)
    assert report.ratio == pytest.approx(0.4, abs=0.02)

    save_losparse(model, tmp_path / "saved")
    saved = json.loads((tmp_path / "saved" / "losparse_layers.json").read_text())
    first = saved["layers"][0]
    assert {"rank", "kept", "d_out", "d_in"} <= set(first)

    compact(model)
    torch.testing.assert_close(h.logits(model, inputs), trained, atol=1e-5, rtol=1e-5)
    assert compression_report(model).params == report.params

    reloaded = load_losparse(h.make_model(family), tmp_path / "saved")  # no ratios given
    assert all(m.compacted for m in losparse_layers(reloaded).values())
    torch.testing.assert_close(
        h.logits(reloaded, h.model_inputs(reloaded)), trained, atol=1e-5, rtol=1e-5
    )
    assert losparse_config(reloaded) == losparse_config(model)

    merged = merge_losparse(reloaded)
    assert not losparse_layers(merged)
    torch.testing.assert_close(h.logits(merged, inputs), trained, atol=1e-4, rtol=1e-4)
    if family == "gpt2":
        assert isinstance(merged.transformer.h[0].attn.c_attn, Conv1D)
    merged.save_pretrained(tmp_path / "plain")
    plain = type(merged).from_pretrained(tmp_path / "plain").eval()
    torch.testing.assert_close(h.logits(plain, inputs), trained, atol=1e-4, rtol=1e-4)


def test_load_from_path(tmp_path, h):
    base = h.make_model("bert")
    base.save_pretrained(tmp_path / "base")
    model = apply_losparse(h.make_model("bert"), LoSparseConfig(low_rank_ratio=0.3))
    save_losparse(model, tmp_path / "ls")
    loaded = load_losparse(str(tmp_path / "base"), tmp_path / "ls")
    inputs = h.model_inputs(model)
    torch.testing.assert_close(
        h.logits(loaded, inputs), h.logits(model, inputs), atol=1e-5, rtol=1e-5
    )


def test_load_onto_mismatched_base_names_layer_and_shapes(tmp_path, h):
    model = apply_losparse(h.make_model("bert"), LoSparseConfig(low_rank_ratio=0.3))
    save_losparse(model, tmp_path)
    from lmlab_common import tiny_encoder

    other = tiny_encoder("bert", head="sequence_classification", hidden_size=32, seed=0)
    with pytest.raises(
        ValueError, match=r"encoder\.layer\.0\.attention\.self\.query.*32x32.*64x64"
    ):
        load_losparse(other, tmp_path)


def test_budgets_match_exactly_across_arms(h):
    budget = 0.3
    arms = {
        "losparse": apply_losparse(h.make_model("bert"), budget_config(budget)),
        "auto": apply_losparse(
            h.make_model("bert"),
            budget_config(budget, low_rank_ratio="auto"),
            calibration=[h.model_inputs(h.make_model("bert"), seed=s) for s in range(2)],
        ),
        "low_rank_only": apply_low_rank_only(h.make_model("bert"), budget),
        "prune_only": apply_prune_only(h.make_model("bert"), budget),
    }
    for name, model in arms.items():
        if name != "low_rank_only":
            _prune(h, model)
        ratio = compression_report(model).ratio
        assert ratio == pytest.approx(budget, abs=0.01), name
    assert all(m.rank == 0 for m in losparse_layers(arms["prune_only"]).values())
    assert all(m.sparse is None for m in losparse_layers(arms["low_rank_only"]).values())


def test_auto_needs_calibration(h):
    with pytest.raises(ValueError, match="calibration"):
        apply_losparse(h.make_model("bert"), budget_config(0.2, low_rank_ratio="auto"))


def test_bad_inputs(h):
    with pytest.raises(ValueError, match="matched no linear layer"):
        apply_losparse(h.make_model("bert"), LoSparseConfig(target_modules=["nonexistent"]))
    with pytest.raises(ValueError, match="rank"):
        apply_losparse(h.make_model("bert"), LoSparseConfig(rank=64))
    model = apply_losparse(h.make_model("bert"), LoSparseConfig())
    with pytest.raises(ValueError, match="already"):
        apply_losparse(model, LoSparseConfig())
    half = h.make_model("bert")
    query = half.bert.encoder.layer[0].attention.self.query
    query.weight = torch.nn.Parameter(query.weight.detach().to(torch.int64), requires_grad=False)
    with pytest.raises(ValueError, match="dtype"):
        apply_losparse(half, LoSparseConfig())


def test_report_counts(bert):
    apply_losparse(bert, LoSparseConfig(rank=4))
    report = compression_report(bert)
    first = report.layers[0]
    assert isinstance(losparse_layers(bert)[first.name], LoSparseLinear)
    assert first.params == 4 * (first.d_in + first.d_out) + first.d_out * first.d_in
    assert report.dense_params == sum(x.d_in * x.d_out for x in report.layers)
    assert "total" in report.to_markdown() and report.to_dict()["ratio"] == report.ratio
