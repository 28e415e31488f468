"""Sentence embeddings the way all-MiniLM-L6-v2 makes them: mean pooling, then L2 norm."""

from __future__ import annotations

import torch
from torch import nn
from transformers import PreTrainedTokenizerBase


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, T, H) hidden states, (B, T) attention mask -> (B, H) mean over real tokens."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp_min(1e-9)


def encode(tokenizer: PreTrainedTokenizerBase, sentences: list[str], max_length: int = 128):
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
) -> torch.Tensor:
    """(N, H) L2-normalised embeddings of ``sentences``, batched."""
    model.eval()
    chunks = []
    for start in range(0, len(sentences), batch_size):
        batch = encode(tokenizer, sentences[start : start + batch_size], max_length)
        chunks.append(nn.functional.normalize(embed_batch(model, batch), dim=-1))
    return torch.cat(chunks)
