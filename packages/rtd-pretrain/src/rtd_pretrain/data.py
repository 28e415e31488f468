"""Corpus → tokenized, grouped blocks (``datasets``), and the masking collator."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from datasets import Dataset
from lmlab_common import require, require_choice, require_int, require_range, train_tokenizer

from .config import MASKING_STYLES

TEXT_SUFFIXES = (".txt", ".text", ".md")


def read_corpus(path: str | os.PathLike) -> list[str]:
    """Non-empty lines of a text file, or of every ``*.txt``/``*.text``/``*.md`` file under a
    folder (sorted). An empty corpus is an error."""
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"corpus={str(path)!r} does not exist; allowed: a text file or "
                                "a folder of .txt files")  # fmt: skip
    files = [root] if root.is_file() else sorted(
        p for p in root.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES
    )  # fmt: skip
    lines = []
    for file in files:
        with open(file, encoding="utf-8") as fh:
            lines.extend(line.strip() for line in fh if line.strip())
    if not lines:
        raise ValueError(f"corpus={str(path)!r} is empty (no non-blank lines in "
                         f"{len(files)} file(s)); allowed: a corpus with text")  # fmt: skip
    return lines


def corpus_tokenizer(texts: Sequence[str], vocab_size: int = 4000, kind: str = "wordlevel"):
    """A ``[PAD] [UNK] [CLS] [SEP] [MASK]`` tokenizer trained offline on ``texts``."""
    return train_tokenizer(texts, kind=kind, vocab_size=vocab_size, wrap="cls_sep")


def check_tokenizer(tokenizer) -> None:
    """RTD needs a mask token, a pad token and [CLS]/[SEP]-style specials."""
    for name in ("mask_token_id", "pad_token_id"):
        require(
            getattr(tokenizer, name, None) is not None,
            f"tokenizer.{name}",
            None,
            "a tokenizer with a mask token and a pad token (e.g. lmlab_common.train_tokenizer)",
        )


def build_blocks(texts: Iterable[str], tokenizer, block_size: int = 64) -> Dataset:
    """Tokenize ``texts``, concatenate and cut into ``[CLS] … [SEP]`` blocks of ``block_size``.

    Returns a ``Dataset`` with ``input_ids`` (lists of length ``block_size``); the tail that
    does not fill a block is dropped (if the whole corpus is shorter, one short block is kept).
    """
    check_tokenizer(tokenizer)
    require_int("block_size", block_size, 8)
    texts = [t for t in texts if t and t.strip()]
    require(len(texts) > 0, "texts", "<empty>", "a corpus with at least one non-blank text")
    raw = Dataset.from_dict({"text": texts})
    tokenized = raw.map(
        lambda b: {"ids": tokenizer(b["text"], add_special_tokens=False)["input_ids"]},
        batched=True,
        remove_columns=["text"],
    )
    body = block_size - 2
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id

    def group(batch):
        flat = [i for ids in batch["ids"] for i in ids]
        n = len(flat) // body
        if n == 0 and flat:
            return {"input_ids": [[cls_id, *flat, sep_id]]}
        return {"input_ids": [[cls_id, *flat[k * body : (k + 1) * body], sep_id] for k in range(n)]}

    blocks = tokenized.map(group, batched=True, batch_size=1000, remove_columns=["ids"])
    require(len(blocks) > 0, "texts", "<no tokens>", "texts the tokenizer turns into tokens")
    return blocks


def mask_tokens(
    input_ids: torch.Tensor,
    candidates: torch.Tensor,
    mask_token_id: int,
    mask_prob: float = 0.15,
    masking_style: str = "deberta",
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Select ``round(mask_prob · n)`` of each row's ``n`` candidate positions (at least one).

    ``deberta``: every selected position becomes [MASK]; ``electra``: 85% [MASK], 15% keep the
    original. Returns ``(masked_ids, labels)`` (B, T), ``labels`` = original id at selected
    positions and -100 elsewhere.
    """
    require_choice("masking_style", masking_style, MASKING_STYLES)
    require_range("mask_prob", mask_prob, 0.0, 1.0, low_inclusive=False)
    device = input_ids.device
    scores = torch.rand(input_ids.shape, generator=generator, device=device)
    scores = scores.masked_fill(~candidates, 2.0)  # non-candidates sort last
    n_cand = candidates.sum(dim=1)
    k = torch.clamp(torch.round(n_cand.float() * mask_prob).long(), min=1)
    k = torch.minimum(k, n_cand)
    order = scores.argsort(dim=1)
    rank = torch.empty_like(order)
    positions = torch.arange(order.shape[1], device=device).expand_as(order).contiguous()
    rank.scatter_(1, order, positions)
    selected = rank < k[:, None]
    labels = torch.where(selected, input_ids, torch.full_like(input_ids, -100))
    to_mask = selected
    if masking_style == "electra":
        keep = torch.rand(input_ids.shape, generator=generator, device=device) < 0.15
        to_mask = selected & ~keep
    masked = torch.where(to_mask, torch.full_like(input_ids, mask_token_id), input_ids)
    return masked, labels


class RTDCollator:
    """Pads ``input_ids`` rows and masks them: ``{"input_ids", "attention_mask", "labels"}``.

    Special tokens ([CLS], [SEP], [PAD], [UNK], ...) are never selected (as officially).
    With ``mask=False`` it only pads and returns ``special_tokens_mask`` instead of labels:
    :class:`RTDModel` then masks inside ``forward`` (what :class:`RTDTrainer` does, so all
    randomness is drawn in step order and a resumed run repeats the uninterrupted one).
    """

    def __init__(
        self,
        tokenizer,
        mask_prob: float = 0.15,
        masking_style: str = "deberta",
        generator: torch.Generator | None = None,
        mask: bool = True,
    ) -> None:
        check_tokenizer(tokenizer)
        self.mask = mask
        require_range("mask_prob", mask_prob, 0.0, 1.0, low_inclusive=False)
        require_choice("masking_style", masking_style, MASKING_STYLES)
        self.pad_id = tokenizer.pad_token_id
        self.mask_id = tokenizer.mask_token_id
        self.special_ids = sorted(set(tokenizer.all_special_ids))
        self.mask_prob = mask_prob
        self.masking_style = masking_style
        self.generator = generator

    def pad(self, rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        attn = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.as_tensor(row, dtype=torch.long)
            attn[i, : len(row)] = 1
        return ids, attn

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        ids, attn = self.pad([f["input_ids"] for f in features])
        special = torch.isin(ids, torch.tensor(self.special_ids)) | (attn == 0)
        if not self.mask:
            return {"input_ids": ids, "attention_mask": attn, "special_tokens_mask": special}
        candidates = ~special
        masked, labels = mask_tokens(
            ids, candidates, self.mask_id, self.mask_prob, self.masking_style, self.generator
        )
        return {"input_ids": masked, "attention_mask": attn, "labels": labels}


def sentence_rows(texts: Iterable[str], tokenizer, max_length: int = 64) -> Dataset:
    """One ``[CLS] text [SEP]`` row per text (truncated to ``max_length``), no grouping: for
    corpora where a row is a unit (e.g. a sentence with a label)."""
    check_tokenizer(tokenizer)
    texts = [t for t in texts if t and t.strip()]
    require(len(texts) > 0, "texts", "<empty>", "at least one non-blank text")
    enc = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    return Dataset.from_dict({"input_ids": enc})
