"""The official token-weighted trace loss.

``L = (1/|T|) sum_t w(y_t) CE(y_hat_t, y_t)`` over target tokens, with ``w = 1`` for the
structure tokens ``<state> </state> <dictsep> :`` and ``w = 10`` for every other token
(values, names, line numbers). Used by the trainer and by the prefix-LM model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from .trace_format import STRUCTURE_TOKENS

if TYPE_CHECKING:
    from .config import CodeExecTrainingArguments


def token_weights(tokenizer, args: CodeExecTrainingArguments) -> torch.Tensor:
    """``(vocab,)`` loss weight per token id: structure tokens low, everything else high."""
    weights = torch.full((len(tokenizer),), float(args.value_token_weight))
    for tok in STRUCTURE_TOKENS:
        tid = tokenizer.convert_tokens_to_ids(tok)
        if tid is not None and tid != tokenizer.unk_token_id:
            weights[tid] = args.structure_token_weight
    return weights


def weighted_trace_loss(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor):
    """``logits (B, T, V)``, ``labels (B, T)`` with -100 ignored, ``weights (V,)`` -> scalar."""
    valid = labels != -100
    safe = labels.masked_fill(~valid, 0)
    ce = F.cross_entropy(logits.transpose(1, 2).float(), safe, reduction="none")  # (B, T)
    w = weights.to(logits.device)[safe] * valid
    return (ce * w).sum() / valid.sum().clamp(min=1)


__all__ = ["token_weights", "weighted_trace_loss"]
