"""One arm of the small-scale claim: train L2R / FIM / MIM on toy programs, then measure
infilling exact match and validity, forward perplexity and infilling latency.

Used by ``reproduce``, the claim test and the benchmark. All arms of a seed share the model
size, initialisation, documents, batch size and number of steps.
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import asdict, dataclass

import torch
from lmlab_common import get_logger, require_choice, set_seed, tiny_causal_lm

from .config import MIMConfig
from .fim import apply_fim
from .infilling import infill_ids
from .model import BidirectionalLM
from .options import METHODS
from .synthetic import Program, ToyPrograms, check_program, toy_tokenizer
from .trainer import MIMTrainer, PadCollator

log = get_logger(__name__)


@dataclass
class ArmSetup:
    """One training run. ``method`` is mim | fim | l2r; ``beta=0`` gives MIM without
    agreement. Defaults are sized for ~1 CPU-minute per arm on 2 cores."""

    method: str = "mim"
    beta: float = 1.0
    divergence: str = "tv"
    seed: int = 0
    steps: int = 500
    batch_size: int = 32
    learning_rate: float = 5e-3
    family: str = "gpt2"
    hidden_size: int = 64
    num_layers: int = 3
    num_heads: int = 4
    num_names: int = 16
    min_defs: int = 1
    max_defs: int = 3
    eval_examples: int = 200
    max_new_tokens: int = 16

    def __post_init__(self) -> None:
        require_choice("method", self.method, METHODS)

    @property
    def label(self) -> str:
        if self.method == "mim":
            return "MIM" if self.beta else "MIM β=0"
        return self.method.upper()


def build_model(setup: ArmSetup, tokenizer) -> BidirectionalLM:
    """A tiny GPT-2 (same size and initialisation for every arm of a seed), wrapped."""
    from .model import prepare_tokenizer

    prepare_tokenizer(tokenizer)
    no_dropout = (
        {"resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0} if setup.family == "gpt2" else {}
    )
    lm = tiny_causal_lm(
        setup.family,
        vocab_size=len(tokenizer),
        hidden_size=setup.hidden_size,
        num_layers=setup.num_layers,
        num_heads=setup.num_heads,
        max_position_embeddings=64,
        seed=setup.seed,
        **no_dropout,
    )
    method = setup.method
    return BidirectionalLM.from_causal_lm(lm, tokenizer, sharing="shared", method=method)


def encode(tokenizer, words: list[str]) -> list[int]:
    return tokenizer.convert_tokens_to_ids(words)


def train_arm(setup: ArmSetup, output_dir: str | None = None):
    """Train one arm; returns ``(model, tokenizer, task, train_seconds, last_log)``."""
    from datasets import Dataset

    set_seed(setup.seed)
    task = ToyPrograms(setup.num_names, setup.min_defs, setup.max_defs)
    tokenizer = toy_tokenizer(task)
    model = build_model(setup, tokenizer)
    docs = task.programs(setup.steps * setup.batch_size, seed=setup.seed)
    data = Dataset.from_dict({"input_ids": [encode(tokenizer, p.words) for p in docs]})
    if setup.method == "fim":
        data = apply_fim(data, model.bidir_config.fim_ids, rate=0.5, seed=setup.seed)
    with tempfile.TemporaryDirectory() as tmp:
        args = MIMConfig(
            output_dir=output_dir or tmp,
            method=setup.method,
            beta=setup.beta,
            divergence=setup.divergence,
            max_steps=setup.steps,
            per_device_train_batch_size=setup.batch_size,
            learning_rate=setup.learning_rate,
            lr_scheduler_type="cosine",
            warmup_steps=min(50, setup.steps // 10),
            weight_decay=0.01,
            logging_steps=max(1, setup.steps // 5),
            save_strategy="no",
            report_to="none",
            use_cpu=True,
            seed=setup.seed,
            disable_tqdm=True,
            dataloader_num_workers=0,
        )
        trainer = MIMTrainer(
            model, args, train_dataset=data, data_collator=PadCollator(tokenizer.pad_token_id)
        )
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
    history = [h for h in trainer.state.log_history if "loss" in h]
    return model, tokenizer, task, seconds, (history[-1] if history else {})


@torch.no_grad()
def forward_perplexity(model: BidirectionalLM, docs: list[list[int]], batch_size: int = 64):
    """exp(mean next-token CE) of the forward direction over ``docs`` (token-weighted)."""
    was = model.training
    model.eval()
    collate = PadCollator(model.bidir_config.pad_token_id)
    total, count = 0.0, 0
    for i in range(0, len(docs), batch_size):
        batch = collate([{"input_ids": d} for d in docs[i : i + batch_size]])
        out = model(**batch, objective="l2r")
        n = int(batch["attention_mask"].sum())
        total += float(out["ce_forward"]) * n
        count += n
    model.train(was)
    return math.exp(total / max(count, 1))


def evaluate_infilling(
    model: BidirectionalLM,
    tokenizer,
    programs: list[Program],
    method: str,
    max_new_tokens: int = 16,
    batch_size: int = 50,
) -> dict:
    """Exact match, validity (:func:`check_program`), met rate and seconds per example."""
    prefixes = [encode(tokenizer, p.prefix) for p in programs]
    suffixes = [encode(tokenizer, p.suffix) for p in programs]
    start = time.perf_counter()
    results = infill_ids(
        model,
        prefixes,
        suffixes,
        max_new_tokens,
        method,
        batch_size=batch_size,
        show_progress=False,
    )
    seconds = time.perf_counter() - start
    exact, valid = [], []
    for prog, res in zip(programs, results, strict=True):
        words = tokenizer.convert_ids_to_tokens(res.middle_ids)
        exact.append(words == prog.middle)
        valid.append(check_program(prog.prefix + words + prog.suffix))
    n = len(programs)
    return {
        "exact_match": sum(exact) / n,
        "validity": sum(valid) / n,
        "met": sum(r.met for r in results) / n,
        "mean_steps": sum(r.steps for r in results) / n,
        "seconds_per_example": seconds / n,
    }


def run_arm(setup: ArmSetup) -> dict:
    """Train and evaluate one arm; a JSON-ready dict of the setup and all metrics."""
    model, tokenizer, task, seconds, last = train_arm(setup)
    evals = task.programs(setup.eval_examples, seed=10_000 + setup.seed)
    docs = [encode(tokenizer, p.words) for p in evals]
    method = {"mim": "mim", "fim": "fim", "l2r": "l2r"}[setup.method]
    metrics = evaluate_infilling(model, tokenizer, evals, method, setup.max_new_tokens)
    out = {
        "setup": asdict(setup),
        "label": setup.label,
        "train_seconds": seconds,
        "last_log": last,
        "forward_perplexity": forward_perplexity(model, docs),
        **metrics,
    }
    log.info(
        "%s seed %d: EM %.3f valid %.3f ppl %.3f (%.0f s)",
        setup.label,
        setup.seed,
        out["exact_match"],
        out["validity"],
        out["forward_perplexity"],
        seconds,
    )
    return out
