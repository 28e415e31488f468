"""Sentence embeddings the way all-MiniLM-L6-v2 makes them: mean pooling, then L2 norm."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from .config import require_int
from .log import progress

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, T, H) hidden states, (B, T) attention mask -> (B, H) mean over real tokens."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp_min(1e-9)


def tokenize(
    tokenizer: PreTrainedTokenizerBase, sentences: list[str], max_length: int = 128
) -> dict[str, torch.Tensor]:
    """Padded, truncated (B, T) ``input_ids`` / ``attention_mask`` tensors."""
    return tokenizer(
        sentences, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
    )


def embed_batch(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Unnormalised mean-pooled embeddings (B, H) of one tokenized batch (keeps the graph)."""
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    return mean_pool(out.last_hidden_state, batch["attention_mask"])


@torch.inference_mode()
def embed(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    sentences: list[str],
    batch_size: int = 64,
    max_length: int = 128,
    normalize: bool = True,
    disable_progress: bool | None = None,
) -> torch.Tensor:
    """(N, H) embeddings of ``sentences`` (L2-normalised unless ``normalize=False``), batched."""
    require_int("batch_size", batch_size, low=1)
    model.eval()
    chunks = []
    starts = range(0, len(sentences), batch_size)
    for start in progress(starts, desc="embed", disable=disable_progress):
        batch = tokenize(tokenizer, sentences[start : start + batch_size], max_length)
        out = embed_batch(model, batch)
        chunks.append(nn.functional.normalize(out, dim=-1) if normalize else out)
    if not chunks:
        hidden = getattr(getattr(model, "config", None), "hidden_size", 0)
        return torch.empty(0, hidden)
    return torch.cat(chunks)


def load_minilm() -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The offline all-MiniLM-L6-v2 ``(BertModel, tokenizer)`` in eval mode."""
    from transformers import AutoModel, AutoTokenizer

    from .offline import minilm_path

    folder = minilm_path()
    model = AutoModel.from_pretrained(folder)
    return model.eval(), AutoTokenizer.from_pretrained(folder)
