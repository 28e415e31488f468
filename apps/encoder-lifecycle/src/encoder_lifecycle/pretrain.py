"""Stage 1: pre-train a small DeBERTa-v2 encoder with RTD + GDES, and MLM-only at equal compute.

Both arms start from the same seed, see the same blocks of real text with the same masking
and optimiser settings (DeBERTaV3's: AdamW β2 0.98, eps 1e-6, wd 0.01, clip 1, linear decay
with 10% warm-up). Each saves a plain DeBERTa-v2 folder that ``AutoModel`` loads.
"""

from __future__ import annotations

import os
import tempfile
import time

import torch
from lmlab_common import get_logger, require, save_tensors
from rtd_pretrain import (
    RTDCollator,
    RTDConfig,
    RTDTrainer,
    build_blocks,
    build_generator,
    build_rtd_model,
    export_discriminator,
)
from transformers import DebertaV2Config, Trainer, TrainingArguments

from .finetune import quiet
from .options import LifecycleOptions

log = get_logger("encoder_lifecycle")


def encoder_config(options: LifecycleOptions, tokenizer) -> DebertaV2Config:
    """DeBERTaV3-style: relative attention (p2c + c2p, 32 buckets), shared attention keys,
    no absolute position embeddings, no token types."""
    return DebertaV2Config(
        vocab_size=len(tokenizer),
        hidden_size=options.hidden_size,
        num_hidden_layers=options.num_layers,
        num_attention_heads=options.num_heads,
        intermediate_size=4 * options.hidden_size,
        max_position_embeddings=max(options.block_size, options.max_length),
        relative_attention=True,
        position_buckets=32,
        pos_att_type=["p2c", "c2p"],
        position_biased_input=False,
        share_att_key=True,
        norm_rel_ebd="layer_norm",
        type_vocab_size=0,
        pad_token_id=tokenizer.pad_token_id,
    )


def pretraining_blocks(corpus: list[str], tokenizer, options: LifecycleOptions):
    """A ``datasets.Dataset`` of ``block_size``-token blocks; too little text is an error."""
    blocks = build_blocks(corpus, tokenizer, block_size=options.block_size)
    require(
        len(blocks) >= options.pretrain_batch_size,
        "corpus_sentences",
        options.corpus_sentences,
        f"enough text for at least pretrain_batch_size={options.pretrain_batch_size} blocks of "
        f"block_size={options.block_size} tokens (got {len(blocks)} blocks from "
        f"{len(corpus)} sentences): more sentences, a smaller batch or shorter blocks",
    )
    return blocks


def _args(cls, output_dir: str, steps: int, options: LifecycleOptions, **extra):
    return cls(
        output_dir=output_dir,
        max_steps=steps,
        per_device_train_batch_size=options.pretrain_batch_size,
        learning_rate=options.pretrain_lr,
        adam_beta2=0.98,
        adam_epsilon=1e-6,
        weight_decay=0.01,
        max_grad_norm=1.0,
        warmup_steps=max(1, steps // 10),
        lr_scheduler_type="linear",
        logging_steps=max(1, steps // 10),
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
        seed=options.seed,
        data_seed=options.seed,
        dataloader_drop_last=True,
        **extra,
    )


def _last(history: list[dict], key: str) -> float | None:
    values = [h[key] for h in history if key in h]
    return float(values[-1]) if values else None


def _probe_outputs(model_dir: str, probe: dict[str, torch.Tensor], out_dir: str) -> None:
    """Save the exported encoder's last hidden states on a probe batch (reload check)."""
    from transformers import AutoModel

    encoder = AutoModel.from_pretrained(model_dir).eval()
    with torch.no_grad():
        hidden = encoder(**probe).last_hidden_state
    save_tensors(
        {"last_hidden_state": hidden.contiguous()}, os.path.join(out_dir, "probe.safetensors")
    )


def pretrain_rtd(blocks, tokenizer, options, out_dir: str, probe) -> dict:
    """RTD + GDES (λ 50, half-depth generator of the same width). Exports the discriminator."""
    config = encoder_config(options, tokenizer)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        args = _args(RTDConfig, tmp, options.rtd_steps, options, embedding_sharing="gdes")
        model = build_rtd_model(config, args, seed=options.seed)
        trainer = RTDTrainer(model, args, train_dataset=blocks, processing_class=tokenizer)
        quiet(trainer).train()
        history = trainer.state.log_history
    seconds = time.perf_counter() - start
    export_discriminator(model.eval(), out_dir, tokenizer)
    _probe_outputs(out_dir, probe, out_dir)
    return {
        "steps": options.rtd_steps,
        "train_seconds": seconds,
        "final_mlm_loss": _last(history, "mlm_loss"),
        "final_rtd_loss": _last(history, "rtd_loss"),
        "final_rtd_auc": _last(history, "rtd_auc"),
    }


def pretrain_mlm(blocks, tokenizer, options, out_dir: str, probe) -> dict:
    """MLM-only: the discriminator-sized masked LM, same masking, ``mlm_steps`` steps."""
    config = encoder_config(options, tokenizer)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        args = _args(TrainingArguments, tmp, options.mlm_steps, options)
        with torch.random.fork_rng():
            torch.manual_seed(options.seed)
            model = build_generator(config)
        collator = RTDCollator(tokenizer, mask_prob=0.15)
        trainer = Trainer(model=model, args=args, train_dataset=blocks, data_collator=collator)
        quiet(trainer).train()
        history = trainer.state.log_history
    seconds = time.perf_counter() - start
    model.eval().save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    _probe_outputs(out_dir, probe, out_dir)
    return {
        "steps": options.mlm_steps,
        "train_seconds": seconds,
        "final_mlm_loss": _last(history, "loss"),
    }
