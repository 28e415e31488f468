"""The small-scale claim: at an equal parameter budget, LoSparse keeps a real sentence-embedding
model's function better than low-rank only and prune-only (used by the claim test and
``lowrank-sparse reproduce``).

Each arm starts from all-MiniLM-L6-v2, is compressed to ``budget`` of its 36 encoder matrices,
and is trained for the same steps to match the original model's mean-pooled sentence
embeddings on real English sentences (cosine loss). Pruning arms prune gradually under the
cubic schedule; low-rank only is truncated at the start. The score is the mean cosine between
the compressed and original embeddings on held-out sentences.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from typing import Any

import torch
import torch.nn.functional as F
from lmlab_common import embed, english_sentences, load_minilm, set_seed, tokenize
from torch import nn

from .apply import apply_losparse
from .config import budget_config
from .distill import distill_embeddings
from .pruner import LoSparsePruner
from .report import compression_report

ARMS = ("losparse", "losparse_auto", "low_rank_only", "prune_only")


@dataclasses.dataclass
class ArmResult:
    """One trained arm: its kept-parameter ratio and held-out cosine to the original model."""

    arm: str
    budget: float
    seed: int
    steps: int
    params: int
    dense_params: int
    ratio: float
    start_cosine: float  # right after apply_losparse, before any pruning or training
    cosine: float
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _ids(batch) -> dict[str, torch.Tensor]:
    return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}


def run_arm(
    arm: str,
    budget: float = 0.2,
    steps: int = 150,
    batch_size: int = 16,
    lr: float = 1e-4,
    seed: int = 0,
    max_length: int = 32,
    n_train: int = 1200,
    n_eval: int = 256,
    low_rank_ratio: float = 0.05,
    teacher: nn.Module | None = None,
    tokenizer: Any = None,
    show_progress: bool = False,
) -> ArmResult:
    """Compress all-MiniLM-L6-v2 with ``arm`` at ``budget`` and distil it for ``steps``.

    Schedule scaled to the run: W_u = steps // 10, t_i = 1, t_f = 3, delta_t = 5; beta1 0.85,
    no uncertainty, sensitivity scores (official defaults otherwise).
    """

    def _embed(model: nn.Module) -> torch.Tensor:
        return embed(model, tokenizer, held_out, max_length=max_length)

    if arm not in ARMS:
        raise ValueError(f"arm={arm!r} is invalid; allowed: one of {', '.join(ARMS)}")
    if teacher is None or tokenizer is None:
        teacher, tokenizer = load_minilm()
    set_seed(seed)
    pool = list(english_sentences(n_train + n_eval, seed=0))
    train, held_out = pool[:n_train], pool[n_train:]
    target_eval = embed(teacher, tokenizer, held_out, max_length=max_length)
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(train), generator=gen).tolist()
    train = [train[i] for i in order]

    unit = max(1, steps // 10)
    schedule = {"warmup_steps": unit, "initial_warmup": 1, "final_warmup": 3, "delta_t": 5}
    if arm == "low_rank_only":
        config = budget_config(budget, method="low_rank_only", **schedule)
    elif arm == "prune_only":
        config = budget_config(budget, method="prune_only", **schedule)
    elif arm == "losparse_auto":
        config = budget_config(budget, low_rank_ratio="auto", **schedule)
    else:
        config = budget_config(budget, low_rank_ratio=low_rank_ratio, **schedule)
    student = copy.deepcopy(teacher)
    calib = None
    if arm == "losparse_auto":
        calib = [_ids(tokenize(tokenizer, train[i : i + 16], max_length)) for i in range(0, 64, 16)]
    apply_losparse(student, config, calibration=calib)
    init_cos = float(F.cosine_similarity(_embed(student), target_eval).mean())
    pruner = None if arm == "low_rank_only" else LoSparsePruner(student, total_steps=steps)
    start = time.perf_counter()
    distill_embeddings(
        student,
        teacher,
        tokenizer,
        train,
        steps,
        batch_size=batch_size,
        lr=lr,
        max_length=max_length,
        pruner=pruner,
        desc=f"{arm} {budget:.0%}",
        show_progress=show_progress,
    )
    seconds = time.perf_counter() - start
    cosine = float(F.cosine_similarity(_embed(student), target_eval).mean())
    report = compression_report(student)
    return ArmResult(
        arm=arm,
        budget=budget,
        seed=seed,
        steps=steps,
        params=report.params,
        dense_params=report.dense_params,
        ratio=report.ratio,
        start_cosine=init_cos,
        cosine=cosine,
        seconds=seconds,
    )
