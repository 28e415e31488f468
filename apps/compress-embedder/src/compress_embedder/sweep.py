"""``compress-embedder sweep``: distilled students at several budgets, float and int8, on one
Pareto plot (cosine vs bytes on disk, cosine vs batch-1 latency) with the int8 alternatives."""

from __future__ import annotations

import os
import shutil
import time

import torch
from lmlab_common import load_minilm, require
from lowrank_sparse import compression_report

from .options import CompressOptions
from .pipeline import (
    INT8_ARMS,
    METHODS,
    Measurer,
    add_context_rows,
    distill_student,
    log,
    split_sentences,
)
from .quantize import quantize_all
from .report import ArmResult, write_report

SHORT = {"losparse": "LoSparse", "low_rank_only": "SVD", "prune_only": "prune-only"}


def arm_name(method: str, budget: float, int8: str | None = None) -> str:
    """e.g. ``LoSparse 50% + distil``, ``... + int8`` (dynamic), ``... + int8 weight-only``."""
    suffix = {None: "", "dynamic": " + int8", "weight_only": " + int8 weight-only"}[int8]
    return f"{SHORT[method]} {budget:.0%} + distil{suffix}"


def sweep(
    options: CompressOptions,
    budgets: list[float],
    methods: list[str],
    int8: bool = True,
) -> tuple[list[ArmResult], str]:
    """For every budget and method: distil a student (the same loop as ``run``), measure it
    and (``int8``) its int8 form; then time everything round-robin and write report.md/json and
    pareto.png into ``options.out_dir``. The report is rewritten after every arm.

    ``int8`` adds both int8 forms of every student: dynamic (the fastest on CPU) and torchao
    weight-only (the most faithful)."""
    require(bool(budgets), "budgets", budgets, "at least one fraction in (0, 1)")
    for b in budgets:
        require(0 < b < 1, "budgets", b, "fractions in (0, 1)")
    for m in methods:
        require(m in METHODS, "methods", m, "some of " + ", ".join(sorted(METHODS)))
    options.check_out_dir()
    teacher, tokenizer = load_minilm()
    teacher.eval()
    if options.overwrite and os.path.isdir(options.out_dir):
        shutil.rmtree(options.out_dir)
    os.makedirs(options.out_dir, exist_ok=True)
    train, held_out = split_sentences(options)
    started = time.perf_counter()
    meter = Measurer(teacher, tokenizer, held_out, options)
    settings = options.to_dict() | {
        "budgets": budgets,
        "methods": methods,
        "held_out": held_out,
        "train_sentences_used": len(train),
        "threads": torch.get_num_threads(),
        "train_seconds": {},
    }

    def report() -> str:
        return write_report(
            options.out_dir,
            list(meter.rows.values()),
            settings,
            plot_name="pareto.png",
            title="compress-embedder sweep",
            compare_to=INT8_ARMS,
        )

    add_context_rows(meter, teacher)
    report()
    for budget in budgets:
        for method in methods:
            t0 = time.perf_counter()
            student, _ = distill_student(method, teacher, tokenizer, train, options, budget)
            name = arm_name(method, budget)
            settings["train_seconds"][name] = round(time.perf_counter() - t0, 1)
            params = compression_report(student).params
            meter.add(name, student, params, budget)
            for scheme in ("dynamic", "weight_only") if int8 else ():
                quantized = quantize_all(student, scheme=scheme)
                meter.add(arm_name(method, budget, scheme), quantized, params, budget)
            report()
    meter.time_all(batch32=False)
    settings["total_seconds"] = round(time.perf_counter() - started, 1)
    log.info("sweep done in %.0f s", settings["total_seconds"])
    return list(meter.rows.values()), report()
