"""Trace-prediction training: tokenizer, collator, token-weighted loss, curriculum sampler.

Works with any transformers seq2seq model (``AutoModelForSeq2SeqLM``). The loss is the
official token-weighted cross-entropy of :mod:`code_exec.losses`. The curriculum follows
the README's easy-to-hard series: stage 1 SingleLine, stage 2 SingleLine + Tutorial, stage 3
the official mix ``p = (0.34, 0.33, 0.33)`` over (mutated, tutorial, singleline), each
step's batch from one tier.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

import torch
from lmlab_common import progress, require
from tokenizers import Tokenizer, models, pre_tokenizers
from torch.utils.data import Sampler
from transformers import PreTrainedModel, PreTrainedTokenizerFast, Seq2SeqTrainer

from .config import CodeExecTrainingArguments
from .losses import token_weights, weighted_trace_loss
from .trace_format import SPECIAL_TOKENS

BASE_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]  # ids 0-4 (lmlab layout)
EXTRA_TOKENS = [*SPECIAL_TOKENS, "<singleline>", "<tutorial>", "<codenet>", "<indent>"]


def build_tokenizer(texts: Sequence[str], max_lines: int = 50) -> PreTrainedTokenizerFast:
    """A whitespace word-level tokenizer over the (already space-separated) sources and traces,
    with the official special tokens and ``<0>`` ... ``<max_lines-1>`` line tokens."""
    vocab = {tok: i for i, tok in enumerate(BASE_SPECIALS)}
    fixed = EXTRA_TOKENS + [f"<{k}>" for k in range(max_lines)]
    for tok in fixed + sorted({t for text in texts for t in text.split()}):
        vocab.setdefault(tok, len(vocab))
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="[PAD]",
        unk_token="[UNK]",
        bos_token="[CLS]",
        eos_token="[SEP]",
        mask_token="[MASK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
    )


def encode_example(tokenizer, source: str, target: str, max_source: int, max_target: int):
    src = tokenizer(source, add_special_tokens=False)["input_ids"][: max_source - 1]
    tgt = tokenizer(target, add_special_tokens=False)["input_ids"][: max_target - 1]
    return {"input_ids": src + [tokenizer.eos_token_id], "labels": tgt + [tokenizer.eos_token_id]}


class TraceCollator:
    """Pads ``input_ids`` with pad and ``labels`` with -100."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        n_src = max(len(f["input_ids"]) for f in features)
        n_tgt = max(len(f["labels"]) for f in features)
        ids = torch.full((len(features), n_src), self.pad_id)
        mask = torch.zeros((len(features), n_src), dtype=torch.long)
        labels = torch.full((len(features), n_tgt), -100)
        for i, f in enumerate(features):
            ids[i, : len(f["input_ids"])] = torch.tensor(f["input_ids"])
            mask[i, : len(f["input_ids"])] = 1
            labels[i, : len(f["labels"])] = torch.tensor(f["labels"])
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def curriculum_schedule(
    tiers: Sequence[str], args: CodeExecTrainingArguments, total_batches: int, batch_size: int
) -> list[int]:
    """Example indices, ``batch_size`` per batch, each batch drawn from one tier by stage."""
    by_tier: dict[str, list[int]] = {}
    for i, tier in enumerate(tiers):
        by_tier.setdefault(tier, []).append(i)
    rng = random.Random(args.seed)
    order = ("mutated", "tutorial", "singleline")
    cut1 = int(total_batches * args.stage_fractions[0])
    cut2 = cut1 + int(total_batches * args.stage_fractions[1])
    out: list[int] = []
    for step in range(total_batches):
        if args.curriculum == "mixed" or step >= cut2:
            probs = dict(zip(order, args.stage3_mix, strict=True))
        elif step < cut1:
            probs = {"singleline": 1.0}
        else:
            probs = {"singleline": 0.5, "tutorial": 0.5}
        names = [t for t in probs if by_tier.get(t) and probs[t] > 0]
        require(bool(names), "train_dataset", "tiers", f"examples of one of {sorted(probs)}")
        tier = rng.choices(names, weights=[probs[t] for t in names])[0]
        out += rng.choices(by_tier[tier], k=batch_size)
    return out


class _FixedOrder(Sampler):
    def __init__(self, indices: list[int]):
        self.indices = indices

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


class CodeExecTrainer(Seq2SeqTrainer):
    """``Seq2SeqTrainer`` with the token-weighted loss and (when the train dataset has a
    ``tier`` column and ``args.curriculum != 'none'``) the curriculum sampler."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        tok = self.processing_class
        require(tok is not None, "processing_class", None, "the trace tokenizer")
        self.loss_weights = token_weights(tok, self.args)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        outputs = model(**inputs, labels=labels)
        loss = weighted_trace_loss(outputs.logits, labels, self.loss_weights)
        return (loss, outputs) if return_outputs else loss

    def _get_train_sampler(self, *args, **kwargs):
        data = self.train_dataset
        if self.args.curriculum == "none" or "tier" not in getattr(data, "column_names", []):
            return super()._get_train_sampler(*args, **kwargs)
        batch = self.args.per_device_train_batch_size * self.args.gradient_accumulation_steps
        require(self.args.max_steps > 0, "max_steps", self.args.max_steps, "> 0 (curriculum)")
        total = self.args.max_steps * self.args.gradient_accumulation_steps
        schedule = curriculum_schedule(
            data["tier"], self.args, total, self.args.per_device_train_batch_size
        )
        del batch
        return _FixedOrder(schedule)


@torch.no_grad()
def predict_traces(
    model: PreTrainedModel,
    tokenizer,
    sources: Sequence[str],
    max_source: int = 128,
    max_new_tokens: int = 128,
    batch_size: int = 32,
    num_beams: int = 1,
) -> list[str]:
    """Batched generation of trace texts for model inputs ``sources``."""
    model.eval()
    device = next(model.parameters()).device
    out: list[str] = []
    batches = range(0, len(sources), batch_size)
    for start in progress(batches, desc="predicting", total=len(batches)):
        chunk = sources[start : start + batch_size]
        enc = [encode_example(tokenizer, s, "", max_source, 2)["input_ids"] for s in chunk]
        collated = TraceCollator(tokenizer.pad_token_id)(
            [{"input_ids": e, "labels": [0]} for e in enc]
        )
        generated = model.generate(
            input_ids=collated["input_ids"].to(device),
            attention_mask=collated["attention_mask"].to(device),
            max_new_tokens=max_new_tokens,
            num_beams=num_beams,
            do_sample=False,
        )
        out += tokenizer.batch_decode(generated, skip_special_tokens=True)
    return [" ".join(text.split()) for text in out]


__all__ = [
    "CodeExecTrainer",
    "TraceCollator",
    "build_tokenizer",
    "curriculum_schedule",
    "encode_example",
    "predict_traces",
    "token_weights",  # re-exported from .losses
    "weighted_trace_loss",  # re-exported from .losses
]
