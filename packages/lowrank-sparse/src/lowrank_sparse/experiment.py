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
from lmlab_common import english_sentences, minilm_path, progress, set_seed
from torch import nn

from .config import budget_config
from .model import apply_losparse
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


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, T, H), (B, T) -> (B, H) mean over real tokens."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp_min(1.0)


def load_minilm() -> tuple[nn.Module, Any]:
    from transformers import AutoModel, AutoTokenizer

    path = minilm_path()
    return AutoModel.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)


def _batches(tokenizer, sentences, batch_size, max_length):
    out = []
    for i in range(0, len(sentences), batch_size):
        enc = tokenizer(
            sentences[i : i + batch_size],
            padding=True,
            truncation=True,
            max_length=max_length,
            return_tensors="pt",
        )
        out.append({"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]})
    return out


@torch.no_grad()
def _embed(model, batches) -> torch.Tensor:
    model.eval()
    return torch.cat(
        [mean_pool(model(**b).last_hidden_state, b["attention_mask"]) for b in batches]
    )


def distill_embeddings(
    student: nn.Module,
    teacher: nn.Module,
    tokenizer: Any,
    sentences: list[str],
    steps: int,
    batch_size: int = 16,
    lr: float = 1e-4,
    max_length: int = 32,
    pruner: LoSparsePruner | None = None,
    desc: str = "distil",
    show_progress: bool = False,
) -> list[float]:
    """Train ``student`` to match ``teacher``'s mean-pooled embeddings (cosine loss) on
    ``sentences`` (cycled in order) for ``steps`` AdamW steps, calling ``pruner.step()`` after
    each optimizer step. Returns the losses."""
    optimizer = torch.optim.AdamW(student.parameters(), lr=lr, weight_decay=0.0)
    teacher.eval()
    student.train()
    cursor, losses = 0, []
    for _ in progress(range(steps), desc=desc, disable=not show_progress):
        if cursor + batch_size > len(sentences):
            cursor = 0
        chunk = sentences[cursor : cursor + batch_size]
        batch = _batches(tokenizer, chunk, batch_size, max_length)[0]
        cursor += batch_size
        with torch.no_grad():
            target = mean_pool(teacher(**batch).last_hidden_state, batch["attention_mask"])
        pred = mean_pool(student(**batch).last_hidden_state, batch["attention_mask"])
        loss = (1 - F.cosine_similarity(pred, target)).mean()
        loss.backward()
        optimizer.step()
        if pruner is not None:
            pruner.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
    student.eval()
    return losses


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
    if arm not in ARMS:
        raise ValueError(f"arm={arm!r} is invalid; allowed: one of {', '.join(ARMS)}")
    if teacher is None or tokenizer is None:
        teacher, tokenizer = load_minilm()
    set_seed(seed)
    pool = list(english_sentences(n_train + n_eval, seed=0))
    train, held_out = pool[:n_train], pool[n_train:]
    eval_batches = _batches(tokenizer, held_out, 64, max_length)
    target_eval = _embed(teacher, eval_batches)
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
    calib = _batches(tokenizer, train[:64], 16, max_length) if arm == "losparse_auto" else None
    apply_losparse(student, config, calibration=calib)
    init_cos = float(F.cosine_similarity(_embed(student, eval_batches), target_eval).mean())
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
    cosine = float(F.cosine_similarity(_embed(student, eval_batches), target_eval).mean())
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
