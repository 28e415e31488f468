"""Batch collation for token-id datasets (no tokenizer needed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch


class PadCollator:
    """Pads ``input_ids`` (and ``token_type_ids``) with ``pad_id``; builds ``attention_mask``.

    ``labels`` that are sequences (LM / token tasks) are padded with -100; scalar labels are
    stacked. For ``causal_lm=True`` and no ``labels`` column, labels are the input ids.
    """

    def __init__(self, pad_id: int = 0, causal_lm: bool = False) -> None:
        self.pad_id = pad_id
        self.causal_lm = causal_lm

    def __call__(self, features: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        if not features:
            raise ValueError("cannot collate an empty batch")
        for i, f in enumerate(features):
            if "input_ids" not in f or len(f["input_ids"]) == 0:
                raise ValueError(
                    f"input_ids of example {i} in the batch is empty or missing; allowed: at "
                    "least one token per example (drop empty rows before training)"
                )
        width = max(len(f["input_ids"]) for f in features)
        n = len(features)
        ids = torch.full((n, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((n, width), dtype=torch.long)
        for i, f in enumerate(features):
            row = torch.as_tensor(f["input_ids"], dtype=torch.long)
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        batch = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in features[0]:
            tt = torch.zeros((n, width), dtype=torch.long)
            for i, f in enumerate(features):
                tt[i, : len(f["token_type_ids"])] = torch.as_tensor(f["token_type_ids"])
            batch["token_type_ids"] = tt
        if "labels" in features[0]:
            first = features[0]["labels"]
            if isinstance(first, list | tuple) or (torch.is_tensor(first) and first.dim() > 0):
                labels = torch.full((n, width), -100, dtype=torch.long)
                for i, f in enumerate(features):
                    labels[i, : len(f["labels"])] = torch.as_tensor(f["labels"])
                batch["labels"] = labels
            else:
                batch["labels"] = torch.as_tensor([f["labels"] for f in features])
        elif self.causal_lm:
            batch["labels"] = ids.masked_fill(mask == 0, -100)
        return batch
