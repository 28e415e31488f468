"""Train one small decoder per method with bidir-lm (same size, initialisation, documents,
batch and steps), save it, and check that the saved model reloads to identical outputs.

Token budget: every method sees the same ``steps * batch_size`` training documents (FIM
documents carry 3-4 extra sentinel tokens); MIM trains both directions on each of them.
"""

from __future__ import annotations

import json
import os
import random
import time

import torch
from bidir_lm import BidirectionalLM, MIMConfig, MIMTrainer, PadCollator, fim_transform
from lmlab_common import atomic_write_json, get_logger, set_seed, tiny_causal_lm
from transformers.trainer_utils import get_last_checkpoint

from .options import InfillOptions

log = get_logger("code_infill")
CONTEXT = 256  # positions: the longest program plus a middle budget and FIM sentinels
DONE_FILE = "train_stats.json"


def build_model(options: InfillOptions, tokenizer, method: str) -> BidirectionalLM:
    """A tiny GPT-2 wrapped for ``method``; the same weights for every method of a seed."""
    lm = tiny_causal_lm(
        "gpt2",
        vocab_size=len(tokenizer),  # already holds bidir-lm's tokens (prepare_tokenizer)
        hidden_size=options.hidden_size,
        num_layers=options.num_layers,
        num_heads=options.num_heads,
        max_position_embeddings=CONTEXT,
        seed=options.seed,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return BidirectionalLM.from_causal_lm(lm, tokenizer, sharing="shared", method=method)


def model_dir(out_dir: str, method: str) -> str:
    return os.path.join(out_dir, "models", method)


def is_trained(out_dir: str, method: str) -> bool:
    return os.path.exists(os.path.join(model_dir(out_dir, method), DONE_FILE))


def load_trained(out_dir: str, method: str) -> tuple[BidirectionalLM, dict]:
    """The saved model of ``method`` (eval mode) and its training statistics."""
    folder = model_dir(out_dir, method)
    if not is_trained(out_dir, method):
        raise FileNotFoundError(
            f"model={folder!r} is missing; allowed: the out dir of a finished "
            f"'code-infill run' that trained method {method!r}"
        )
    with open(os.path.join(folder, DONE_FILE), encoding="utf-8") as fh:
        stats = json.load(fh)
    return BidirectionalLM.from_pretrained(folder).eval(), stats


@torch.no_grad()
def max_logit_diff(a: BidirectionalLM, b: BidirectionalLM, docs: list[list[int]]) -> float:
    """Largest absolute difference of both directions' logits on ``docs`` (0 = identical)."""
    a.eval()
    b.eval()
    batch = PadCollator(a.bidir_config.pad_token_id)([{"input_ids": d} for d in docs])
    diffs = [
        (x - y).abs().max()
        for x, y in zip(a.direction_logits(**batch), b.direction_logits(**batch), strict=True)
    ]
    return float(max(diffs))


def train_method(
    options: InfillOptions, method: str, tokenizer, docs: list[list[int]], probe: list[list[int]]
) -> dict:
    """Train ``method`` on ``docs`` (resuming from its last Trainer checkpoint), save it to
    ``models/<method>``, reload it and compare logits on ``probe`` documents."""
    folder = model_dir(options.out_dir, method)
    work = os.path.join(folder, "checkpoints")
    set_seed(options.seed)
    model = build_model(options, tokenizer, method)
    if method == "fim":  # bidir-lm's FIM transform, one seeded cut per document
        fim_ids = model.bidir_config.fim_ids
        docs = [
            fim_transform(d, fim_ids, random.Random(options.seed * 1_000_003 + i), options.fim_rate)
            for i, d in enumerate(docs)
        ]
    data = [{"input_ids": d} for d in docs]
    args = MIMConfig(
        output_dir=work,
        method=method,
        beta=options.beta,
        max_steps=options.steps,
        per_device_train_batch_size=options.batch_size,
        learning_rate=options.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=max(1, options.steps // 10),
        weight_decay=0.01,
        logging_steps=max(1, options.steps // 10),
        save_strategy="steps",
        save_steps=max(20, options.steps // 4),
        save_total_limit=1,
        report_to="none",
        use_cpu=True,
        seed=options.seed,
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    trainer = MIMTrainer(
        model, args, train_dataset=data, data_collator=PadCollator(tokenizer.pad_token_id)
    )
    last = get_last_checkpoint(work) if os.path.isdir(work) else None
    if last:
        log.info("%s: resuming training from %s", method, last)
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=last)
    seconds = time.perf_counter() - started
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    reloaded = BidirectionalLM.from_pretrained(folder)
    history = [h for h in trainer.state.log_history if "loss" in h]
    stats = {
        "method": method,
        "train_seconds": round(seconds, 1),
        "resumed_from": os.path.basename(last) if last else None,
        "steps": options.steps,
        "documents_seen": options.steps * options.batch_size,
        "parameters": sum(p.numel() for p in model.parameters()),
        "final_log": history[-1] if history else {},
        "reload_max_abs_diff": max_logit_diff(model, reloaded, probe),
    }
    atomic_write_json(os.path.join(folder, DONE_FILE), stats)  # marks the stage finished
    log.info("%s: trained in %.0f s, last log %s", method, seconds, stats["final_log"])
    return stats
