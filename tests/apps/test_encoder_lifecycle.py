"""The encoder-lifecycle app: a quick run interrupted and resumed, its report complete, every
saved model reloading with identical outputs, bad input refused, public APIs only."""

import ast
import json
import os
import pathlib
import subprocess
import sys

import pytest
import torch
from encoder_lifecycle import (
    LifecycleOptions,
    load_classifier,
    model_folders,
    pretraining_corpus,
    quick_options,
    reference_logits,
    run,
    topic_task,
)
from encoder_lifecycle import pipeline as pipeline_module
from encoder_lifecycle.cli import main
from encoder_lifecycle.finetune import predict, task_dataset
from encoder_lifecycle.stages import STATE_FILE

SRC = pathlib.Path(__file__).resolve().parents[2] / "apps" / "encoder-lifecycle" / "src"
PACKAGES = ("rtd_pretrain", "task_distill", "lowrank_sparse", "lmlab_common")
ALL_STAGES = [
    "data",
    "pretrain-rtd",
    "pretrain-mlm",
    "finetune",
    "distill-losparse",
    "distill-half",
]


class Interrupted(Exception):
    pass


def _finished(out):
    return json.loads((out / STATE_FILE).read_text())["finished"]


@pytest.fixture(scope="module")
def resumed_run(tmp_path_factory):
    """A quick run killed in its last stage, then resumed: earlier stages must not rerun."""
    out = tmp_path_factory.mktemp("lifecycle") / "out"
    options = quick_options(out_dir=str(out))
    real_student = pipeline_module.initial_student

    def dies_on_half(kind, *args, **kwargs):
        if kind == "half":
            raise Interrupted("simulated kill during the half-depth stage")
        return real_student(kind, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pipeline_module, "initial_student", dies_on_half)
        with pytest.raises(Interrupted):
            run(options)
    first = _finished(out)
    partial = json.loads((out / "report.json").read_text())
    partial["markdown_title"] = (out / "report.md").read_text().splitlines()[0]
    teacher_file = out / "finetune" / "rtd" / "model.safetensors"
    stamp = teacher_file.stat().st_mtime_ns

    def must_not_run(*args, **kwargs):
        raise AssertionError("a finished stage ran again")

    def only_half(kind, *args, **kwargs):
        assert kind == "half", "the finished LoSparse stage ran again"
        return real_student(kind, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        for name in ("pretrain_rtd", "pretrain_mlm", "fine_tune"):
            mp.setattr(pipeline_module, name, must_not_run)
        mp.setattr(pipeline_module, "initial_student", only_half)
        data = run(options)
    return out, options, data, first, partial, stamp


@pytest.mark.claim
def test_interrupted_run_resumes_from_last_finished_stage(resumed_run):
    out, _options, data, first, partial, stamp = resumed_run
    assert set(first) == set(ALL_STAGES[:-1])
    assert partial["complete"] is False and partial["models"] is None
    assert "partial" in partial["markdown_title"]
    assert "distill-losparse" in partial["stages"] and "distill-half" not in partial["stages"]
    assert set(_finished(out)) == set(ALL_STAGES)
    assert (out / "finetune" / "rtd" / "model.safetensors").stat().st_mtime_ns == stamp
    # finished stages' results were reused, not recomputed
    assert data["stages"]["finetune"] == first["finetune"]["result"]


@pytest.mark.claim
def test_quick_report_is_complete(resumed_run):
    out, options, data, *_ = resumed_run
    report = json.loads((out / "report.json").read_text())
    assert report["complete"] is True and report["environment"]
    rows = {row["name"]: row for row in report["models"]}
    assert set(rows) == set(model_folders(options))
    for name, row in rows.items():
        assert 0.0 <= row["accuracy"] <= 1.0, name
        assert row["params"] > 0 and row["disk_mb"] > 0, name
        assert row["latency_b1_ms"] > 0 and row["latency_b32_ms"] > 0, name
        assert row["reload_max_abs_diff"] <= 1e-5, name
    assert set(report["wall_seconds"]) == set(ALL_STAGES) | {"report"}
    assert len(report["orderings"]) == 7
    for stage in ("pretrain-rtd", "pretrain-mlm"):
        assert report["stages"][stage]["final_mlm_loss"] is not None
    assert report["stages"]["pretrain-mlm"]["steps"] == round(1.5 * options.rtd_steps)
    text = (out / "report.md").read_text()
    for heading in ("Pre-training", "Every model", "Orderings", "Wall time per stage"):
        assert heading in text
    assert "partial" not in text.splitlines()[0]
    png = out / "accuracy_vs_cost.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # Students really are smaller than the teacher they came from.
    teacher = rows["finetune/rtd"]["params"]
    assert rows["half-ted"]["params"] < teacher and rows["losparse-ted"]["params"] < teacher
    assert rows["finetune/rtd"]["params"] == rows["finetune/mlm"]["params"]


@pytest.mark.claim
def test_every_saved_model_reloads_with_identical_outputs(resumed_run):
    from lowrank_sparse import compression_report
    from transformers import AutoModel, AutoTokenizer

    out, options, *_ = resumed_run
    tokenizer = AutoTokenizer.from_pretrained(out / "data" / "tokenizer")
    task = json.loads((out / "data" / "task.json").read_text())
    test = task_dataset(task["test_texts"], task["test_labels"], tokenizer, options.max_length)
    for name, folder in model_folders(options).items():
        model = load_classifier(folder)
        logits = predict(model, test, tokenizer.pad_token_id)
        assert torch.allclose(logits, reference_logits(folder), atol=1e-5, rtol=0), name
        if name.startswith("losparse"):
            ratio = compression_report(model).ratio
            assert abs(ratio - options.budget) < 0.02, (name, ratio)
        if name.startswith("half"):
            assert model.config.num_hidden_layers == options.num_layers // 2
    probe = tokenizer(task["test_texts"][:8], padding=True, return_tensors="pt")
    for arm in ("rtd", "mlm"):
        folder = out / "pretrain" / arm
        encoder = AutoModel.from_pretrained(folder).eval()
        with torch.no_grad():
            hidden = encoder(
                input_ids=probe["input_ids"], attention_mask=probe["attention_mask"]
            ).last_hidden_state
        from lmlab_common import load_tensors

        saved = load_tensors(folder / "probe.safetensors")["last_hidden_state"]
        assert torch.allclose(hidden, saved, atol=1e-5, rtol=0), arm


def test_task_split_holds_out_whole_sections():
    task = topic_task()
    assert not set(task.train_texts) & set(task.test_texts)
    assert set(task.train_labels) == set(task.test_labels) == set(range(len(task.groups)))
    from encoder_lifecycle.data import _section_sentences

    sections = _section_sentences()
    train = set(task.train_texts)
    for section in task.test_sections:
        assert sections[section] and not train & set(sections[section]), section
    corpus = pretraining_corpus(task)
    assert not set(corpus) & set(task.test_texts)
    assert len(corpus) > 8000


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--budget", "1.5"], "budget=1.5 is invalid; allowed: a number in (0, 1)"),
        (["--budget", "0"], "budget=0.0 is invalid"),
        (["--num-layers", "3"], "num_layers=3 is invalid"),
        (["--low-rank-ratio", "0.6"], "low_rank_ratio=0.6 is invalid"),
        (["--corpus-sentences", "100000"], "corpus_sentences=100000 is invalid; allowed: at most"),
        (["--corpus-sentences", "20"], "corpus_sentences=20 is invalid; allowed: enough text"),
    ],
)
def test_bad_input_names_argument_value_and_allowed(tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    assert main(["run", "--quick", "--out", str(out), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()  # nothing written before the input was checked


def test_missing_parent_and_foreign_folder_are_refused(tmp_path, capsys):
    missing = tmp_path / "no" / "such" / "out"
    assert main(["run", "--quick", "--out", str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"out_dir={str(missing)!r} is invalid" in err and "parent folder" in err
    (tmp_path / "mine.txt").write_text("keep")
    assert main(["run", "--quick", "--out", str(tmp_path)]) == 2
    assert "holds no encoder-lifecycle run" in capsys.readouterr().err
    assert (tmp_path / "mine.txt").read_text() == "keep"


def test_resume_with_other_settings_is_refused(tmp_path):
    from encoder_lifecycle.stages import StageLog

    log = StageLog(str(tmp_path), {"seed": 0})
    log.finished["data"] = {"result": {}, "wall_seconds": 0.0}
    log.save()
    with pytest.raises(ValueError, match="holds a run with other settings .seed=0 there, 1 now"):
        StageLog(str(tmp_path), {"seed": 1})


def test_options_validation():
    with pytest.raises(ValueError, match="hidden_size=100 is invalid; allowed: a multiple"):
        LifecycleOptions(hidden_size=100, num_heads=3)
    with pytest.raises(ValueError, match="distill_steps=5 is invalid"):
        LifecycleOptions(distill_steps=5)
    assert LifecycleOptions(rtd_steps=10).mlm_steps == 15


def test_only_public_names_of_the_packages_are_imported():
    """AST scan: `from <pkg> import X` with X in <pkg>.__all__; no submodule imports."""
    import importlib

    public = {name: set(importlib.import_module(name).__all__) for name in PACKAGES}
    files = sorted(SRC.rglob("*.py"))
    assert files
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    root = alias.name.split(".")[0]
                    assert root not in PACKAGES, f"{path.name}: import {alias.name}"
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                root = node.module.split(".")[0]
                if root in PACKAGES:
                    assert node.module == root, f"{path.name}: from {node.module} import ..."
                    for alias in node.names:
                        assert alias.name in public[root], f"{path.name}: {root}.{alias.name}"


def test_module_entry_point_help():
    result = subprocess.run(
        [sys.executable, "-m", "encoder_lifecycle", "run", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert "--budget" in result.stdout and "--quick" in result.stdout
