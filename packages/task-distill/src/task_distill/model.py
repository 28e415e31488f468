"""``FilteredModel``: the one module a Trainer (and DistributedDataParallel) wraps.

It holds a transformers model and, optionally, its filters (TED), projections (LWD) or
stage-I filters with heads. Everything that has trainable parameters runs inside its
``forward``, so DDP sees each parameter used once per step and one optimiser covers both.
"""

from __future__ import annotations

import os

import torch
from torch import nn
from transformers import PreTrainedModel

from .filters import TaskAwareFilters

FILTERS_DIR = "filters"


def run_model(model, input_ids, attention_mask=None, token_type_ids=None, labels=None, **kwargs):
    """Call a transformers model with ``output_hidden_states=True``; check it returned them."""
    if input_ids is None or input_ids.dim() != 2 or input_ids.shape[-1] == 0:
        shape = None if input_ids is None else tuple(input_ids.shape)
        raise ValueError(
            f"input_ids shape {shape} is invalid; allowed: (batch, length) with length >= 1 "
            "(an example with empty input_ids cannot be distilled)"
        )
    extra = dict(kwargs)
    if token_type_ids is not None:
        extra["token_type_ids"] = token_type_ids
    if labels is not None:
        extra["labels"] = labels
    out = model(
        input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True, **extra
    )
    if getattr(out, "hidden_states", None) is None:
        raise ValueError(
            f"{type(model).__name__} returned no hidden_states with output_hidden_states=True; "
            "TED and LWD need a model that exposes its per-layer hidden states"
        )
    return out


class FilteredModel(nn.Module):
    """A transformers model and (optionally) its filters; forward returns both outputs.

    ``forward(...)`` → dict with ``loss``, ``logits``, ``hidden_states`` and ``filtered``
    (list of ``(B, T, d_f)`` or ``None``).

    - ``stage1=False`` (distillation): ``loss`` is the model's own task loss.
    - ``stage1=True`` (learning filters): the backbone runs without gradients in eval mode, the
      filters and their heads run on its hidden states, ``loss`` is the heads' task loss
      averaged over filters and ``logits`` are the last filter's head logits.
    """

    def __init__(
        self, model: PreTrainedModel, filters: TaskAwareFilters | None = None, stage1: bool = False
    ) -> None:
        super().__init__()
        if stage1 and filters is None:
            raise ValueError("stage1=True needs filters (with heads); got filters=None")
        self.model = model
        self.filters = filters
        self.stage1 = stage1

    @property
    def config(self):
        return self.model.config

    def train(self, mode: bool = True) -> FilteredModel:
        super().train(mode)
        if self.stage1:
            self.model.eval()  # a frozen backbone gives fixed features (no dropout)
        return self

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs,
    ) -> dict:
        if self.stage1:
            with torch.no_grad():
                out = run_model(self.model, input_ids, attention_mask, token_type_ids, **kwargs)
            filtered = self.filters(out.hidden_states)
            head_logits = self.filters.head_logits(filtered)
            loss = None
            if labels is not None:
                loss = self.filters.task_loss(filtered, labels, head_logits=head_logits)
            return {
                "loss": loss,
                "logits": head_logits[-1],
                "hidden_states": out.hidden_states,
                "filtered": filtered,
            }
        out = run_model(self.model, input_ids, attention_mask, token_type_ids, labels, **kwargs)
        filtered = self.filters(out.hidden_states) if self.filters is not None else None
        return {
            "loss": getattr(out, "loss", None),
            "logits": out.logits,
            "hidden_states": out.hidden_states,
            "filtered": filtered,
        }

    def save_pretrained(self, directory: str | os.PathLike, **kwargs) -> None:
        """The backbone via ``save_pretrained``; filters in ``directory/filters``."""
        self.model.save_pretrained(directory, **kwargs)
        if self.filters is not None:
            self.filters.save_pretrained(os.path.join(directory, FILTERS_DIR))

    def load_checkpoint(self, directory: str | os.PathLike) -> None:
        """Load weights written by :meth:`save_pretrained` into this model, in place."""
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"checkpoint folder {str(directory)!r} does not exist")
        loaded = type(self.model).from_pretrained(directory)
        self.model.load_state_dict(loaded.state_dict())
        if self.filters is not None:
            saved = TaskAwareFilters.from_pretrained(os.path.join(directory, FILTERS_DIR))
            self.filters.load_state_dict(saved.state_dict())
