"""The compress-embedder job: five models side by side, the distilled one saved and reloaded.

Arms, all at the same budget of the encoder's linear parameters:
- ``original``: all-MiniLM-L6-v2 as shipped (the teacher).
- ``int8 dynamic quantization``: the original with every linear layer quantized to int8 by
  ``torch.ao.quantization.quantize_dynamic`` (one line, no data; what users pick first). Its
  linear parameters are all kept, at one byte each.
- ``truncated SVD``: each matrix replaced by its rank-r SVD, no training.
- ``LoSparse (no distillation)``: W = LR + S with the rows of S pruned once by magnitude to the
  budget, no training.
- ``LoSparse + distillation``: the LoSparse pruner runs on the cubic schedule while the student
  learns to match the teacher's sentence embeddings (1 - cosine) and every layer's hidden
  states (masked MSE, the layer-wise term of task-distill).
"""

from __future__ import annotations

import copy
import os
import shutil
import time

import torch
from lmlab_common import (
    embed,
    english_sentences,
    get_logger,
    load_minilm,
    minilm_path,
    save_tensors,
    set_seed,
    tokenize,
)
from lowrank_sparse import (
    LoSparsePruner,
    apply_losparse,
    apply_low_rank_only,
    budget_config,
    compact,
    compression_report,
    distill_embeddings,
    load_losparse,
    save_losparse,
)
from task_distill import layer_mse_loss
from torch import nn
from transformers import AutoTokenizer

from .cost import count_parameters, disk_bytes, latencies_ms
from .options import CompressOptions
from .quality import quality
from .quantize import quantize_int8
from .report import ArmResult, write_report

log = get_logger("compress_embedder")
MODEL_DIR = "model"
INT8 = "int8 dynamic quantization"
ORIGINAL, SVD, ONESHOT, DISTILLED = (
    "original",
    "truncated SVD",
    "LoSparse (no distillation)",
    "LoSparse + distillation",
)


def split_sentences(options: CompressOptions) -> tuple[list[str], list[str]]:
    pool = list(english_sentences(options.train_sentences + options.eval_sentences, seed=0))
    return pool[: options.train_sentences], pool[options.train_sentences :]


def one_shot_losparse(teacher: nn.Module, options: CompressOptions) -> nn.Module:
    """LoSparse decomposition with S's rows pruned once by |S| to the budget (no data)."""
    student = copy.deepcopy(teacher)
    config = budget_config(
        options.budget,
        low_rank_ratio=options.low_rank_ratio if options.low_rank_ratio != "auto" else 0.05,
        importance="magnitude",
        warmup_steps=1,
    )
    apply_losparse(student, config)
    LoSparsePruner(student, total_steps=5).finalize()
    return compact(student)


def distill_losparse(
    teacher: nn.Module,
    tokenizer: AutoTokenizer,
    train: list[str],
    options: CompressOptions,
) -> tuple[nn.Module, list[float]]:
    """Train a LoSparse student under the pruner's cubic schedule to match the teacher
    (:func:`lowrank_sparse.distill_embeddings`).

    Loss per batch: mean(1 - cos(student_emb, teacher_emb)) + layer_weight * mean over layers
    of the padding-masked MSE between hidden states (``task_distill.layer_mse_loss``; same
    width, so no projection). Returns the compacted student and the loss curve.
    """
    set_seed(options.seed)
    unit = max(1, options.steps // 10)
    config = budget_config(
        options.budget,
        low_rank_ratio=options.low_rank_ratio,
        warmup_steps=unit,
        initial_warmup=1,
        final_warmup=3,
        delta_t=5,
    )
    student = copy.deepcopy(teacher)
    calibration = None
    if options.low_rank_ratio == "auto":
        calibration = [tokenize(tokenizer, train[i : i + 16], options.max_length) for i in (0, 16)]
    apply_losparse(student, config, calibration=calibration)
    pruner = LoSparsePruner(student, total_steps=options.steps)
    losses = distill_embeddings(
        student,
        teacher,
        tokenizer,
        train,
        options.steps,
        batch_size=options.batch_size,
        lr=options.lr,
        max_length=options.max_length,
        pruner=pruner,
        layer_loss=layer_mse_loss,
        layer_weight=options.layer_weight,
        shuffle_seed=options.seed,
        finalize=True,
        desc="distilling LoSparse student",
        show_progress=True,
    )
    return compact(student.eval()), losses


def run(options: CompressOptions) -> tuple[list[ArmResult], str]:
    """Build, measure and save everything into ``options.out_dir``; return rows and report."""
    options.check_out_dir()
    teacher, tokenizer = load_minilm()  # clear error naming the package when missing
    if options.overwrite and os.path.isdir(options.out_dir):
        shutil.rmtree(options.out_dir)
    os.makedirs(options.out_dir, exist_ok=True)
    train, held_out = split_sentences(options)
    torch.manual_seed(options.seed)
    started = time.perf_counter()

    log.info("building truncated SVD and one-shot LoSparse at %.0f%% budget", 100 * options.budget)
    int8 = quantize_int8(teacher)
    svd = compact(apply_low_rank_only(copy.deepcopy(teacher), options.budget))
    oneshot = one_shot_losparse(teacher, options)
    log.info("distilling the LoSparse student for %d steps", options.steps)
    distilled, losses = distill_losparse(teacher, tokenizer, train, options)
    train_seconds = time.perf_counter() - started

    model_dir = os.path.join(options.out_dir, MODEL_DIR)
    save_losparse(distilled, model_dir)
    tokenizer.save_pretrained(model_dir)
    emb_distilled = embed(distilled, tokenizer, held_out, max_length=options.max_length)
    save_tensors(
        {"embeddings": emb_distilled}, os.path.join(options.out_dir, "embeddings.safetensors")
    )
    reloaded = load_compressed(model_dir).eval()
    emb_reloaded = embed(reloaded, tokenizer, held_out, max_length=options.max_length)
    reload_error = float((emb_reloaded - emb_distilled).abs().max())

    models = {ORIGINAL: teacher, INT8: int8, SVD: svd, ONESHOT: oneshot, DISTILLED: distilled}
    log.info("measuring latency (round-robin, %d repeats)", options.latency_repeats)
    lat1 = latencies_ms(models, tokenizer, held_out, 1, options.latency_repeats)
    lat32 = latencies_ms(models, tokenizer, held_out, 32, options.latency_repeats)
    dense_linear = compression_report(svd).dense_params
    reference = embed(teacher, tokenizer, held_out, max_length=options.max_length)
    rows = []
    for name, model in models.items():
        emb = (
            emb_distilled
            if model is distilled
            else embed(model, tokenizer, held_out, max_length=options.max_length)
        )
        q = quality(emb, reference)
        rows.append(
            ArmResult(
                name=name,
                linear_params=dense_linear
                if model is teacher or model is int8
                else compression_report(model).params,
                total_params=count_parameters(model),
                disk_mb=disk_bytes(model) / 2**20,
                latency_b1_ms=lat1[name],
                latency_b32_ms=lat32[name],
                mean_cosine=q.mean_cosine,
                spearman=q.spearman,
                top1_overlap=q.top1_overlap,
                top5_overlap=q.top5_overlap,
            )
        )
    settings = options.to_dict() | {
        "held_out": held_out,
        "train_seconds": round(train_seconds, 1),
        "final_loss": losses[-1] if losses else None,
        "reload_max_abs_diff": reload_error,
        "threads": torch.get_num_threads(),
    }
    text = write_report(options.out_dir, rows, settings)
    return rows, text


def load_compressed(model_dir: str) -> nn.Module:
    """The saved LoSparse student, rebuilt onto the original architecture."""
    return load_losparse(minilm_path(), model_dir)
