"""Batched greedy decoding with a KV cache, and batched scoring of candidate rows."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from transformers import PreTrainedModel


class Stepper:
    """Greedy incremental decoding of many rows of different lengths with one KV cache.

    Rows are left-padded; ``position_ids`` count only real tokens, so a padded row sees the
    same positions as it would alone. ``start()`` returns the next-token logits ``(N, V)``;
    ``step(tokens)`` appends one token per row and returns the next logits.
    """

    def __init__(self, model: PreTrainedModel, rows: Sequence[Sequence[int]], pad_id: int):
        if not rows or any(len(r) == 0 for r in rows):
            raise ValueError("rows must be non-empty lists of token ids")
        device = next(model.parameters()).device
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, width - len(row) :] = torch.tensor(list(row), dtype=torch.long)
            mask[i, width - len(row) :] = 1
        self.model = model
        self.ids, self.mask = ids.to(device), mask.to(device)
        self.cache = None
        self.next_pos: torch.Tensor | None = None
        self.forwards = 0

    def start(self) -> torch.Tensor:
        positions = (self.mask.cumsum(1) - 1).clamp_min(0)
        out = self.model(
            input_ids=self.ids, attention_mask=self.mask, position_ids=positions, use_cache=True
        )
        self.cache = _cache_of(out)
        self.next_pos = positions[:, -1] + 1
        self.forwards += 1
        return out.logits[:, -1].float()

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        self.mask = torch.cat([self.mask, torch.ones_like(self.mask[:, :1])], dim=1)
        out = self.model(
            input_ids=tokens.view(-1, 1).to(self.mask.device),
            attention_mask=self.mask,
            position_ids=self.next_pos.view(-1, 1),
            cache=self.cache,
            use_cache=True,
        )
        self.cache = _cache_of(out)
        self.next_pos = self.next_pos + 1
        self.forwards += 1
        return out.logits[:, -1].float()


def _cache_of(output):
    """The KV cache of a model output (``cache`` in transformers 5; ``past_key_values`` before)."""
    cache = getattr(output, "cache", None)
    return cache if cache is not None else getattr(output, "past_key_values", None)


@torch.no_grad()
def score_rows(
    model: PreTrainedModel, rows: Sequence[Sequence[int]], check_from: Sequence[int], pad_id: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """How acceptable the tail of each row is to ``model`` (one right-padded forward).

    For every token ``row[t]`` with ``t >= check_from[i]``: its probability relative to the
    most likely token there, ``p(row[t]) / max_v p(v)``. Returns per row the minimum of that
    ratio ``(N,)`` and the mean log-probability of the checked tokens ``(N,)`` (rows with no
    checked token get ratio 1 and log-prob 0).
    """
    device = next(model.parameters()).device
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    check = torch.zeros((len(rows), width - 1), dtype=torch.bool)
    for i, (row, start) in enumerate(zip(rows, check_from, strict=True)):
        ids[i, : len(row)] = torch.tensor(list(row), dtype=torch.long)
        mask[i, : len(row)] = 1
        check[i, max(start - 1, 0) : len(row) - 1] = True  # logits at t-1 predict row[t]
    ids, mask, check = ids.to(device), mask.to(device), check.to(device)
    logp = F.log_softmax(model(input_ids=ids, attention_mask=mask).logits[:, :-1].float(), -1)
    token_lp = logp.gather(-1, ids[:, 1:, None]).squeeze(-1)
    gap = token_lp - logp.max(-1).values  # log of the ratio, <= 0
    zeros = torch.zeros_like(gap)
    min_ratio = torch.where(check, gap, zeros).min(1).values.exp()
    count = check.sum(1).clamp_min(1)
    mean_lp = torch.where(check, token_lp, zeros).sum(1) / count
    return min_ratio.cpu(), mean_lp.cpu()
