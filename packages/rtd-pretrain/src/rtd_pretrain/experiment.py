"""Small-scale experiment helpers shared by the claim test and ``reproduce``.

``pretrain_arm`` runs :class:`RTDTrainer` for one sharing mode; ``fixed_corruption`` builds one
corrupted evaluation set with a frozen reference sampler (so RTD accuracy/AUC compare across
arms, whose own generators corrupt differently); ``heldout_mlm_loss`` and
``evaluate_discriminator`` score the results.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from datasets import Dataset
from transformers import DebertaV2Config, ElectraConfig, PretrainedConfig

from .config import RTDConfig
from .data import RTDCollator
from .metrics import roc_auc
from .model import RTDModel
from .trainer import RTDTrainer, build_rtd_model


def discriminator_config(
    backend: str,
    vocab_size: int,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 2,
    max_positions: int = 128,
    pad_token_id: int = 0,
) -> PretrainedConfig:
    """A tiny DeBERTaV3-style (relative attention, no absolute positions) or ELECTRA config."""
    common = dict(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        intermediate_size=4 * hidden_size,
        max_position_embeddings=max_positions,
        pad_token_id=pad_token_id,
        bos_token_id=2,
        eos_token_id=3,
    )
    if backend == "deberta":
        return DebertaV2Config(
            **common,
            relative_attention=True,
            position_buckets=32,
            pos_att_type=["p2c", "c2p"],
            position_biased_input=False,
            type_vocab_size=0,
        )
    if backend == "electra":
        return ElectraConfig(**common, embedding_size=hidden_size)
    raise ValueError(f"backend={backend!r} is invalid; allowed: 'deberta', 'electra'")


@dataclass
class ArmResult:
    """One trained arm: the model and its logged history (one dict per logging step)."""

    model: RTDModel
    history: list[dict] = field(default_factory=list)

    def curve(self, key: str) -> list[tuple[int, float]]:
        return [(h["step"], h[key]) for h in self.history if key in h]


def training_args(
    output_dir: str, sharing: str, steps: int, seed: int, batch_size: int = 32,
    learning_rate: float = 5e-4, rtd_lambda: float = 50.0, logging_steps: int = 10, **overrides,
) -> RTDConfig:  # fmt: skip
    """The official optimiser settings (AdamW β=(0.9, 0.98), eps 1e-6, wd 0.01, clip 1.0,
    linear schedule with 10% warm-up) on CPU, no checkpoints."""
    settings = dict(
        output_dir=output_dir,
        embedding_sharing=sharing,
        rtd_lambda=rtd_lambda,
        max_steps=steps,
        per_device_train_batch_size=batch_size,
        learning_rate=learning_rate,
        adam_beta2=0.98,
        adam_epsilon=1e-6,
        weight_decay=0.01,
        max_grad_norm=1.0,
        warmup_steps=max(1, steps // 10),
        lr_scheduler_type="linear",
        logging_steps=logging_steps,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
        seed=seed,
        data_seed=seed,
        dataloader_drop_last=True,
    )
    return RTDConfig(**{**settings, **overrides})


def pretrain_mlm_only(
    blocks: Dataset, tokenizer, config: PretrainedConfig, steps: int, seed: int = 0,
    batch_size: int = 32, learning_rate: float = 5e-4, **overrides,
):  # fmt: skip
    """The MLM-only baseline: the discriminator-sized model trained as a masked LM with the
    same masking and optimiser. Returns the trained ``*ForMaskedLM`` model."""
    from transformers import Trainer

    from .model import build_generator

    with tempfile.TemporaryDirectory() as tmp:
        args = training_args(tmp, "nes", steps, seed, batch_size, learning_rate,
                             logging_steps=max(1, steps // 5), **overrides)  # fmt: skip
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            model = build_generator(config)
        collator = RTDCollator(tokenizer, args.mask_prob, args.masking_style)
        Trainer(model=model, args=args, train_dataset=blocks, data_collator=collator).train()
    return model.eval()


def pretrain_arm(
    sharing: str,
    blocks: Dataset,
    tokenizer,
    config: PretrainedConfig,
    steps: int,
    seed: int = 0,
    batch_size: int = 32,
    learning_rate: float = 5e-4,
    rtd_lambda: float = 50.0,
    logging_steps: int = 10,
    output_dir: str | None = None,
    **overrides,
) -> ArmResult:
    """Train one arm with the official optimiser settings (AdamW β=(0.9, 0.98), eps 1e-6,
    wd 0.01, clip 1.0, linear schedule with 10% warm-up)."""
    with tempfile.TemporaryDirectory() as tmp:
        args = training_args(output_dir or tmp, sharing, steps, seed, batch_size, learning_rate,
                             rtd_lambda, logging_steps, **overrides)  # fmt: skip
        model = build_rtd_model(config, args, seed=seed)
        trainer = RTDTrainer(model, args, train_dataset=blocks, processing_class=tokenizer)
        trainer.train()
        history = [h for h in trainer.state.log_history if "mlm_loss" in h]
    return ArmResult(model.eval(), history)


@dataclass
class CorruptedSet:
    """A fixed corrupted evaluation set: discriminator inputs, labels and padding mask (B, T)."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor
    masked_ids: torch.Tensor
    mlm_labels: torch.Tensor


def fixed_corruption(
    blocks: Dataset,
    tokenizer,
    sampler: Callable[[torch.Tensor, torch.Generator], torch.Tensor],
    seed: int = 1234,
    mask_prob: float = 0.15,
) -> CorruptedSet:
    """Mask ``blocks`` once (seeded) and replace masked ids by ``sampler(original_ids, gen)``.

    Labels follow the RTD rule (replaced only where the sample differs). The masked ids and
    MLM labels are kept too, so the generators' held-out MLM loss uses the same masks.
    """
    gen = torch.Generator().manual_seed(seed)
    collator = RTDCollator(tokenizer, mask_prob, "deberta", generator=gen)
    batch = collator([{"input_ids": r} for r in blocks["input_ids"]])
    masked = batch["labels"] != -100
    original = torch.where(masked, batch["labels"], batch["input_ids"])
    corrupted = original.clone()
    corrupted[masked] = sampler(original[masked], gen)
    labels = (masked & (corrupted != original)).long()
    return CorruptedSet(corrupted, batch["attention_mask"], labels, batch["input_ids"],
                        batch["labels"])  # fmt: skip


@torch.no_grad()
def heldout_mlm_loss(model: RTDModel, data: CorruptedSet, batch_size: int = 64) -> float:
    """Generator cross-entropy on the fixed masks of ``data`` (mean over masked tokens)."""
    model.eval()
    total, count = 0.0, 0
    for i in range(0, data.masked_ids.shape[0], batch_size):
        ids, attn = data.masked_ids[i : i + batch_size], data.attention_mask[i : i + batch_size]
        labels = data.mlm_labels[i : i + batch_size]
        logits = model.generator(input_ids=ids, attention_mask=attn).logits
        sel = labels != -100
        loss = torch.nn.functional.cross_entropy(logits[sel], labels[sel], reduction="sum")
        total, count = total + float(loss), count + int(sel.sum())
    return total / max(count, 1)


@torch.no_grad()
def evaluate_discriminator(model: RTDModel, data: CorruptedSet, batch_size: int = 64) -> dict:
    """RTD accuracy (threshold 0), AUC over all non-padding tokens and AUC on masked positions
    only (originals kept by the sampler vs replaced)."""
    model.eval()
    scores = []
    for i in range(0, data.input_ids.shape[0], batch_size):
        ids, attn = data.input_ids[i : i + batch_size], data.attention_mask[i : i + batch_size]
        scores.append(model.discriminate(ids, attn))
    s = torch.cat(scores)
    keep = data.attention_mask > 0
    y = data.labels
    return {
        "rtd_accuracy": float(((s[keep] > 0).long() == y[keep]).float().mean()),
        "rtd_auc": roc_auc(s[keep], y[keep]),
        "replaced_fraction": float(y[keep].float().mean()),
    }
