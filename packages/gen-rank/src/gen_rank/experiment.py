"""The small-scale experiment shared by the claim test, ``reproduce`` and the benchmark.

Steps: build a tiny GPT-2 generator and BERT ranker for :class:`ChainTask`; MLE-train the
generator on the noisy strategy mixture; build a candidate pool (beams + samples from that
generator) and warm the ranker on it with :class:`JGRTrainer` (ranker-only schedule); evaluate
the ranker (pairwise accuracy, its pick vs the top beam) and generators (top beam).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from lmlab_common import progress, set_seed, tiny_causal_lm, tiny_encoder
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from .config import JGRConfig
from .generation import mle_batch, sample_candidates
from .metrics import Metric, score_candidates
from .ranker import Ranker
from .synthetic import ChainTask, chain_metric, chain_step_labels
from .trainer import JGRTrainer

MAX_NEW_TOKENS = 24


@dataclass
class Setup:
    """Sizes of the experiment (defaults: the CI claim test's budget)."""

    train_sources: int = 2000
    eval_sources: int = 150
    generator_steps: int = 600
    generator_batch: int = 64
    generator_lr: float = 2e-3
    pool_sources: int = 400
    pool_beams: int = 8
    pool_samples: int = 8
    ranker_steps: int = 400
    ranker_batch: int = 16
    ranker_lr: float = 2e-3
    ranker_loss: str = "listwise"
    ranker_step_weight: float = 0.0  # > 0: step-check head + auxiliary loss (chain_step_labels)
    ranker_step_layer: int = -1
    hidden: int = 64
    layers: int = 2
    dropout: float = 0.0  # 0.1 (the configs' default) kept both models at chance on the sums


def build_models(
    tokenizer: PreTrainedTokenizerBase, setup: Setup, seed: int
) -> tuple[PreTrainedModel, Ranker]:
    vocab = len(tokenizer)
    gen = tiny_causal_lm(
        "gpt2",
        vocab_size=vocab,
        hidden_size=setup.hidden,
        num_layers=setup.layers,
        num_heads=2,
        seed=seed,
        resid_pdrop=setup.dropout,
        embd_pdrop=setup.dropout,
        attn_pdrop=setup.dropout,
    )
    enc = tiny_encoder(
        "bert",
        vocab_size=vocab,
        hidden_size=setup.hidden,
        num_layers=setup.layers,
        num_heads=2,
        seed=seed + 1000,
        hidden_dropout_prob=setup.dropout,
        attention_probs_dropout_prob=setup.dropout,
    )
    ranker = Ranker(enc, step_head=setup.ranker_step_weight > 0, step_layer=setup.ranker_step_layer)
    return gen.train(), ranker


def train_mle(
    generator: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    rows: Sequence[dict],
    steps: int,
    batch_size: int,
    lr: float,
    seed: int = 0,
) -> list[float]:
    """Plain MLE on ``rows[i]["source"] -> rows[i]["target"]``; returns the loss curve."""
    rng = random.Random(seed)
    opt = torch.optim.AdamW(generator.parameters(), lr=lr)
    generator.train()
    losses = []
    for _ in progress(range(steps), desc="MLE"):
        batch = rng.sample(list(rows), min(batch_size, len(rows)))
        inputs = mle_batch(
            generator,
            tokenizer,
            [r["source"] for r in batch],
            [r["target"] for r in batch],
            max_target_length=MAX_NEW_TOKENS,
        )
        loss = generator(**inputs).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    generator.eval()
    return losses


def candidate_pool(
    generator: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    rows: Sequence[dict],
    num_beams: int,
    num_samples: int,
    metric: Metric = chain_metric,
    batch_size: int = 50,
) -> list[dict]:
    """Rows with ``candidates`` (beams first, beam 0 = top beam, then samples) and their
    ``candidate_scores``. Beams are ranked by raw sequence probability (length_penalty 0)."""
    out = []
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        sources = [r["source"] for r in chunk]
        texts = [[] for _ in chunk]
        if num_beams:
            beams = sample_candidates(
                generator,
                tokenizer,
                sources,
                num_beams,
                do_sample=False,
                max_new_tokens=MAX_NEW_TOKENS,
                length_penalty=0.0,
            )
            texts = [t + b for t, b in zip(texts, beams.texts, strict=True)]
        if num_samples:
            samples = sample_candidates(
                generator,
                tokenizer,
                sources,
                num_samples,
                do_sample=True,
                max_new_tokens=MAX_NEW_TOKENS,
                top_k=0,
            )
            texts = [t + s for t, s in zip(texts, samples.texts, strict=True)]
        for row, cands in zip(chunk, texts, strict=True):
            scores = score_candidates(metric, cands, [row["reference"]] * len(cands))
            out.append({**row, "candidates": cands, "candidate_scores": scores})
    return out


def warm_ranker(
    generator: PreTrainedModel,
    ranker: Ranker,
    tokenizer: PreTrainedTokenizerBase,
    pool: list[dict],
    setup: Setup,
    output_dir: str,
    seed: int = 0,
) -> JGRTrainer:
    """Train the ranker alone on a pre-generated pool (JGRTrainer, ranker-only schedule)."""
    from datasets import Dataset

    args = JGRConfig(
        output_dir=output_dir,
        max_steps=setup.ranker_steps,
        per_device_train_batch_size=setup.ranker_batch,
        ranker_learning_rate=setup.ranker_lr,
        iteration_steps=1,
        iteration_ranker_steps=1,
        candidate_pick_strategy="all",
        ranker_loss_type=setup.ranker_loss,
        num_cand_generated=len(pool[0]["candidates"]),
        num_cand_picked=2,
        max_new_tokens=MAX_NEW_TOKENS,
        use_cpu=True,
        report_to="none",
        save_strategy="no",
        logging_steps=max(1, setup.ranker_steps // 4),
        seed=seed,
        disable_tqdm=True,
        lr_scheduler_type="constant",
        ranker_step_loss_weight=setup.ranker_step_weight,
    )
    trainer = JGRTrainer(
        generator,
        ranker,
        args,
        tokenizer,
        metric=chain_metric,
        step_labeler=chain_step_labels if setup.ranker_step_weight > 0 else None,
        train_dataset=Dataset.from_list(pool),
    )
    trainer.train()
    ranker.eval()
    return trainer


@torch.no_grad()
def evaluate_ranker(
    ranker: Ranker, tokenizer: PreTrainedTokenizerBase, pool: list[dict], batch_size: int = 32
) -> dict[str, float]:
    """Pairwise accuracy over candidate pairs with different metric, and the metric of the
    ranker's pick, the top beam (candidate 0), a random candidate and the oracle."""
    ranker.eval()
    correct = total = 0
    pick, top, rand, oracle = [], [], [], []
    for start in range(0, len(pool), batch_size):
        chunk = pool[start : start + batch_size]
        scores = ranker.score(
            tokenizer, [r["source"] for r in chunk], [r["candidates"] for r in chunk]
        ).cpu()
        for row, s in zip(chunk, scores, strict=True):
            m = torch.tensor(row["candidate_scores"])
            diff_m = m[:, None] - m[None, :]
            diff_s = s[:, None] - s[None, :]
            mask = diff_m > 0
            correct += int(((diff_s > 0) & mask).sum()) + 0.5 * int(((diff_s == 0) & mask).sum())
            total += int(mask.sum())
            pick.append(float(m[int(s.argmax())]))
            top.append(float(m[0]))
            rand.append(float(m.mean()))
            oracle.append(float(m.max()))
    n = len(pool)
    return {
        "pairwise_accuracy": correct / max(total, 1),
        "ranker_pick": sum(pick) / n,
        "top_beam": sum(top) / n,
        "random_candidate": sum(rand) / n,
        "oracle": sum(oracle) / n,
        "ranker_pick_em": sum(p == 1.0 for p in pick) / n,
        "top_beam_em": sum(t == 1.0 for t in top) / n,
    }


@torch.no_grad()
def evaluate_generator(
    generator: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, rows: Sequence[dict]
) -> dict[str, float]:
    """Top-beam (greedy = 1 beam) metric and exact match on ``rows``."""
    pool = candidate_pool(generator, tokenizer, rows, num_beams=1, num_samples=0)
    scores = [r["candidate_scores"][0] for r in pool]
    return {
        "metric": sum(scores) / len(scores),
        "exact_match": sum(s == 1.0 for s in scores) / len(scores),
    }


def prepare(seed: int, setup: Setup, task: ChainTask | None = None, quiet: bool = True):
    """Task, tokenizer, MLE-trained generator and a fresh ranker for ``seed``."""
    task = task or ChainTask(seed=seed)
    set_seed(seed)
    tok = task.tokenizer()
    generator, ranker = build_models(tok, setup, seed)
    train_rows = task.rows(setup.train_sources, "train")
    train_mle(
        generator, tok, train_rows, setup.generator_steps, setup.generator_batch,
        setup.generator_lr, seed,
    )  # fmt: skip
    return task, tok, generator, ranker, train_rows
