"""Prefix-LM option as in the official model: one encoder used as an "encoder-decoder".

Source tokens attend to each other bidirectionally; target tokens attend causally to all
tokens before them: ``M_ij = [j <= i] or (src_i and src_j)``. The mask is passed as a 4-D
*additive float* mask ``(B, 1, L, L)`` (0 / dtype min), which transformers 5 accepts for BERT /
RoBERTa under eager and sdpa attention (a 3-D or bool mask leaks or is rejected).
The LM head is tied to the word embeddings, as officially.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import PreTrainedModel

from .losses import weighted_trace_loss


def prefix_lm_mask(is_source: torch.Tensor, pad_mask: torch.Tensor, dtype=torch.float32):
    """``is_source (B, L)`` bool, ``pad_mask (B, L)`` 1 for real tokens -> ``(B, 1, L, L)``."""
    length = is_source.shape[1]
    causal = torch.ones(length, length, dtype=torch.bool, device=is_source.device).tril()
    both_source = is_source[:, :, None] & is_source[:, None, :]
    allowed = (causal[None] | both_source) & pad_mask[:, None, :].bool()
    allowed |= torch.eye(length, dtype=torch.bool, device=is_source.device)[None]  # no empty row
    mask = torch.zeros(allowed.shape, dtype=dtype, device=is_source.device)
    return mask.masked_fill(~allowed, torch.finfo(dtype).min)[:, None]


class PrefixLMTraceModel(nn.Module):
    """Wraps an encoder (e.g. ``BertModel``/``RobertaModel``) as a prefix LM over
    ``[source ; target]``. ``forward(input_ids (B,L), is_source (B,L), attention_mask (B,L),
    labels (B,L) with -100 outside the target)`` returns ``(loss, logits (B, L, V))``."""

    def __init__(self, encoder: PreTrainedModel):
        super().__init__()
        self.encoder = encoder
        self.bias = nn.Parameter(torch.zeros(encoder.config.vocab_size))

    def forward(self, input_ids, is_source, attention_mask, labels=None, weights=None):
        mask = prefix_lm_mask(is_source, attention_mask, self.encoder.dtype)
        hidden = self.encoder(input_ids=input_ids, attention_mask=mask).last_hidden_state
        logits = hidden @ self.encoder.get_input_embeddings().weight.T + self.bias  # tied head
        loss = None
        if labels is not None:
            shifted = labels[:, 1:]  # position t predicts token t + 1
            w = weights if weights is not None else torch.ones(logits.shape[-1])
            loss = weighted_trace_loss(logits[:, :-1], shifted, w)
        return loss, logits
