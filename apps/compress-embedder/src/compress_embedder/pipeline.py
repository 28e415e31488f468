"""The compress-embedder job: the fair arms and the int8 alternatives side by side.

Every compressed arm keeps the same budget of the encoder's 36 linear matrices, and every
trained arm gets the same distillation (steps, batch, sentences in the same order, loss:
1 - cosine of the mean-pooled embeddings plus the layer-wise hidden-state MSE of task-distill,
via :func:`lowrank_sparse.distill_embeddings`):

- ``original``: all-MiniLM-L6-v2 as shipped (the teacher).
- ``int8 dynamic quantization``: ``quantize_dynamic`` with its defaults (one line, no data).
- ``torchao int8 weight-only``: torchao's ``quantize_(model, Int8WeightOnlyConfig())`` (one
  line, no data).
- ``int8 linears + int8 embeddings``: per-channel dynamic int8 linears and a per-row int8
  embedding table (:func:`~compress_embedder.quantize.quantize_all`, no data); ``int8
  weight-only linears + int8 embeddings``: the same with torchao's weight-only linears.
- ``truncated SVD`` / ``LoSparse (no distillation)``: context rows without training.
- ``truncated SVD + distillation``, ``prune-only + distillation``, ``LoSparse + distillation``:
  the paper's comparison (low-rank only, rows of W pruned on the LoSparse schedule, W = LR + S
  with rows of S pruned), each distilled the same way.
- ``LoSparse + distillation + int8`` (dynamic) and ``... + int8 weight-only`` (torchao): the
  distilled student with its low-rank factors, kept rows of S and embedding table in int8.
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
    find_linear_modules,
    get_logger,
    linear_weight,
    load_minilm,
    minilm_path,
    save_tensors,
    set_seed,
    tokenize,
)
from lowrank_sparse import (
    LoSparseConfig,
    LoSparsePruner,
    apply_losparse,
    apply_low_rank_only,
    apply_prune_only,
    budget_config,
    compact,
    compression_report,
    distill_embeddings,
    load_losparse,
    save_losparse,
)
from task_distill import layer_mse_loss
from torch import nn
from transformers import PreTrainedTokenizerBase

from .cost import count_parameters, disk_bytes, latencies_ms
from .options import CompressOptions
from .quality import quality
from .quantize import quantize_all, quantize_int8, quantize_int8_weight_only
from .report import ArmResult, write_report

log = get_logger("compress_embedder")
MODEL_DIR = "model"
ORIGINAL = "original"
INT8 = "int8 dynamic quantization"
INT8_WO = "torchao int8 weight-only"
INT8_ALL = "int8 linears + int8 embeddings"
INT8_WO_ALL = "int8 weight-only linears + int8 embeddings"
# the int8 alternatives every compressed model is compared with
INT8_ARMS = (INT8, INT8_WO, INT8_ALL, INT8_WO_ALL)
SVD = "truncated SVD"
ONESHOT = "LoSparse (no distillation)"
SVD_DISTILLED = "truncated SVD + distillation"
PRUNE_DISTILLED = "prune-only + distillation"
DISTILLED = "LoSparse + distillation"
DISTILLED_INT8 = "LoSparse + distillation + int8"
DISTILLED_INT8_WO = "LoSparse + distillation + int8 weight-only"
# method of lowrank-sparse -> label of its distilled arm
METHODS = {
    "losparse": DISTILLED,
    "low_rank_only": SVD_DISTILLED,
    "prune_only": PRUNE_DISTILLED,
}


def split_sentences(options: CompressOptions) -> tuple[list[str], list[str]]:
    """(train, held_out): disjoint slices of one seeded stream of real English sentences.

    The held-out sentences come first, so they do not move when ``train_sentences`` changes."""
    pool = list(english_sentences(None, seed=0, source=options.text_source))
    need = options.eval_sentences + options.train_sentences
    if need > len(pool):
        raise ValueError(
            f"train_sentences={options.train_sentences} is invalid; allowed: at most "
            f"{len(pool) - options.eval_sentences} (source={options.text_source!r} has "
            f"{len(pool)} sentences, {options.eval_sentences} held out)"
        )
    held_out = pool[: options.eval_sentences]
    return pool[options.eval_sentences : need], held_out


def one_shot_losparse(teacher: nn.Module, budget: float, low_rank_ratio: float | str) -> nn.Module:
    """LoSparse decomposition with S's rows pruned once by |S| to the budget (no data)."""
    student = copy.deepcopy(teacher)
    config = budget_config(
        budget,
        low_rank_ratio=low_rank_ratio if low_rank_ratio != "auto" else 0.05,
        importance="magnitude",
        warmup_steps=1,
    )
    apply_losparse(student, config)
    LoSparsePruner(student, total_steps=5).finalize()
    return compact(student)


def distill_student(
    method: str,
    teacher: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    train: list[str],
    options: CompressOptions,
    budget: float | None = None,
) -> tuple[nn.Module, list[float]]:
    """Build a ``method`` student ("losparse", "low_rank_only" or "prune_only") at ``budget``
    and distil it from the teacher; return it compacted, with its loss curve.

    All three get the same loop (:func:`lowrank_sparse.distill_embeddings`): same steps, batch
    size, learning rate, sentence order and loss (1 - cosine of the mean-pooled embeddings +
    ``layer_weight`` x the padding-masked hidden-state MSE of ``task_distill``). LoSparse and
    prune-only prune rows (of S, of W) with the same sensitivity scores and cubic schedule;
    low-rank only has nothing to prune and trains its SVD factors.
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r} is invalid; allowed: one of {sorted(METHODS)}")
    budget = options.budget if budget is None else budget
    set_seed(options.seed)
    unit = max(1, options.steps // 10)
    schedule = dict(warmup_steps=unit, initial_warmup=1, final_warmup=3, delta_t=5)
    student = copy.deepcopy(teacher)
    pruner = None
    if method == "low_rank_only":
        apply_low_rank_only(student, budget)
    elif method == "prune_only":
        apply_prune_only(student, budget_config(budget, method="prune_only", **schedule))
        pruner = LoSparsePruner(student, total_steps=options.steps)
    else:
        ratio = options.low_rank_ratio
        if ratio != "auto" and ratio >= budget:
            ratio = budget / 5  # the paper's 0.05 of 0.25 budget, scaled
        calibration = None
        if ratio == "auto":
            calibration = [
                tokenize(tokenizer, train[i : i + 16], options.max_length) for i in (0, 16)
            ]
        apply_losparse(
            student, budget_config(budget, low_rank_ratio=ratio, **schedule), calibration
        )
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
        finalize=pruner is not None,
        desc=f"distilling {method} student ({budget:.0%})",
        show_progress=True,
    )
    return compact(student.eval()), losses


class Measurer:
    """Quality and size of each arm as it finishes; latency of all arms round-robin at the end."""

    def __init__(self, teacher, tokenizer, held_out: list[str], options: CompressOptions):
        self.tokenizer, self.held_out, self.options = tokenizer, held_out, options
        self.reference = embed(teacher, tokenizer, held_out, max_length=options.max_length)
        self.models: dict[str, nn.Module] = {}
        self.rows: dict[str, ArmResult] = {}
        self.dense_linear = 0

    def embed(self, model: nn.Module) -> torch.Tensor:
        return embed(model, self.tokenizer, self.held_out, max_length=self.options.max_length)

    def add(
        self,
        name: str,
        model: nn.Module,
        linear_params: int,
        budget: float | None,
        emb: torch.Tensor | None = None,
    ) -> ArmResult:
        model.eval()
        q = quality(self.embed(model) if emb is None else emb, self.reference)
        row = ArmResult(
            name=name,
            budget=budget,
            linear_params=linear_params,
            total_params=count_parameters(model),
            disk_mb=disk_bytes(model) / 2**20,
            latency_b1_ms=None,
            latency_b32_ms=None,
            mean_cosine=q.mean_cosine,
            spearman=q.spearman,
            top1_overlap=q.top1_overlap,
            top5_overlap=q.top5_overlap,
        )
        self.models[name], self.rows[name] = model, row
        log.info("%s: cosine %.4f, %.1f MB", name, row.mean_cosine, row.disk_mb)
        return row

    def time_all(self, batch32: bool = True) -> None:
        """Median latency of every model, round-robin in one loop (batch 1: 3x the repeats)."""
        reps = self.options.latency_repeats
        log.info("measuring latency of %d models (round-robin)", len(self.models))
        lat1 = latencies_ms(self.models, self.tokenizer, self.held_out, 1, 3 * reps)
        for name, ms in lat1.items():
            self.rows[name].latency_b1_ms = ms
        if batch32:
            lat32 = latencies_ms(self.models, self.tokenizer, self.held_out, 32, reps)
            for name, ms in lat32.items():
                self.rows[name].latency_b32_ms = ms


def add_context_rows(meter: Measurer, teacher: nn.Module) -> int:
    """original and the int8 arms (no data); returns the dense linear parameter count."""
    config = LoSparseConfig()
    targets = find_linear_modules(teacher, config.target_modules, config.exclude_modules)
    dense = sum(linear_weight(m).numel() for m in targets.values())
    meter.dense_linear = dense
    meter.add(ORIGINAL, teacher, dense, None)
    meter.add(INT8, quantize_int8(teacher), dense, None)
    meter.add(INT8_WO, quantize_int8_weight_only(teacher), dense, None)
    meter.add(INT8_ALL, quantize_all(teacher), dense, None)
    meter.add(INT8_WO_ALL, quantize_all(teacher, scheme="weight_only"), dense, None)
    return dense


def run(options: CompressOptions) -> tuple[list[ArmResult], str]:
    """Build, measure and save everything into ``options.out_dir``; return rows and report.

    A report with the arms finished so far is rewritten after every arm (latency columns
    empty until the end), so an interrupted run keeps its partial results."""
    options.check_out_dir()
    teacher, tokenizer = load_minilm()  # clear error naming the package when missing
    teacher.eval()
    if options.overwrite and os.path.isdir(options.out_dir):
        shutil.rmtree(options.out_dir)
    os.makedirs(options.out_dir, exist_ok=True)
    train, held_out = split_sentences(options)
    torch.manual_seed(options.seed)
    started = time.perf_counter()
    meter = Measurer(teacher, tokenizer, held_out, options)
    settings = options.to_dict() | {
        "held_out": held_out,
        "train_sentences_used": len(train),
        "threads": torch.get_num_threads(),
    }

    def report() -> str:
        return write_report(
            options.out_dir, list(meter.rows.values()), settings, compare_to=INT8_ARMS
        )

    budget = options.budget
    add_context_rows(meter, teacher)
    svd = compact(apply_low_rank_only(copy.deepcopy(teacher), budget))
    meter.add(SVD, svd, compression_report(svd).params, budget)
    oneshot = one_shot_losparse(teacher, budget, options.low_rank_ratio)
    meter.add(ONESHOT, oneshot, compression_report(oneshot).params, budget)
    report()

    train_seconds, final_loss = {}, {}
    for method in ("losparse", "low_rank_only", "prune_only"):
        name = METHODS[method]
        log.info("distilling %s for %d steps", name, options.steps)
        t0 = time.perf_counter()
        student, losses = distill_student(method, teacher, tokenizer, train, options)
        train_seconds[name] = round(time.perf_counter() - t0, 1)
        final_loss[name] = losses[-1] if losses else None
        params = compression_report(student).params
        if method == "losparse":
            emb = _save_student(student, tokenizer, meter, options, settings)
            meter.add(name, student, params, budget, emb)
            meter.add(DISTILLED_INT8, quantize_all(student), params, budget)
            wo = quantize_all(student, scheme="weight_only")
            meter.add(DISTILLED_INT8_WO, wo, params, budget)
        else:
            meter.add(name, student, params, budget)
        settings |= {"train_seconds": train_seconds, "final_loss": final_loss}
        report()

    meter.time_all()
    settings["total_seconds"] = round(time.perf_counter() - started, 1)
    rows = [meter.rows[name] for name in ORDER if name in meter.rows]
    text = write_report(options.out_dir, rows, settings, compare_to=INT8_ARMS)
    return rows, text


ORDER = [
    ORIGINAL,
    INT8,
    INT8_WO,
    INT8_ALL,
    INT8_WO_ALL,
    SVD,
    ONESHOT,
    SVD_DISTILLED,
    PRUNE_DISTILLED,
    DISTILLED,
    DISTILLED_INT8,
    DISTILLED_INT8_WO,
]


def _save_student(student, tokenizer, meter: Measurer, options, settings) -> torch.Tensor:
    """Save the LoSparse student and its held-out embeddings; check that it reloads."""
    model_dir = os.path.join(options.out_dir, MODEL_DIR)
    save_losparse(student, model_dir)
    tokenizer.save_pretrained(model_dir)
    emb = meter.embed(student)
    save_tensors({"embeddings": emb}, os.path.join(options.out_dir, "embeddings.safetensors"))
    reloaded = load_compressed(model_dir).eval()
    settings["reload_max_abs_diff"] = float((meter.embed(reloaded) - emb).abs().max())
    return emb


def load_compressed(model_dir: str) -> nn.Module:
    """The saved LoSparse student, rebuilt onto the original architecture (float32; pass it
    to :func:`compress_embedder.quantize_all` for the int8 form the report measures)."""
    return load_losparse(minilm_path(), model_dir)
