"""Task-aware filters: one small module per selected layer, applied outside the model.

The filters read ``hidden_states`` of a model called with ``output_hidden_states=True``, so
they work on any architecture (BERT, DeBERTa, GPT-2, Llama, bare ``AutoModel`` encoders).
Stage I adds, per filter, a head: for sequence classification a pooler (dense + activation on
the first token), dropout and a linear classifier (the official ``TEDContextPooler`` path);
for causal LMs and token classification a per-token linear head.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

import torch
from lmlab_common import ConfigBase, load_tensors, require, require_choice, save_tensors
from torch import nn
from transformers.activations import ACT2FN

from .losses import causal_lm_loss, classification_loss, make_filter

TASKS = ("sequence_classification", "token_classification", "causal_lm")
WEIGHTS_NAME = "filters.safetensors"


@dataclasses.dataclass
class FilterConfig(ConfigBase):
    """Everything needed to rebuild :class:`TaskAwareFilters` from a folder."""

    config_name = "filters_config.json"

    hidden_size: int = 768
    layers: list[int] = dataclasses.field(default_factory=lambda: [1])
    output_dim: int | None = None  # None = hidden_size (official default)
    nonlinear: bool = False
    activation: str = "gelu"
    task: str = "sequence_classification"
    num_labels: int = 2
    vocab_size: int | None = None
    with_heads: bool = True
    dropout: float = 0.1
    init_std: float = 0.02

    def __post_init__(self) -> None:
        require(
            isinstance(self.hidden_size, int) and self.hidden_size > 0,
            "hidden_size",
            self.hidden_size,
            "an int > 0",
        )
        self.layers = [int(x) for x in self.layers]
        require(
            bool(self.layers) and all(x >= 1 for x in self.layers),
            "layers",
            self.layers,
            "a non-empty list of 1-based layer numbers",
        )
        if self.output_dim is None:
            self.output_dim = self.hidden_size
        require(self.output_dim > 0, "output_dim", self.output_dim, "an int > 0 or None")
        require_choice("task", self.task, TASKS)
        require_choice("activation", self.activation, sorted(ACT2FN))
        if self.task == "causal_lm" and self.with_heads:
            require(
                isinstance(self.vocab_size, int) and self.vocab_size > 0,
                "vocab_size",
                self.vocab_size,
                "an int > 0 for task='causal_lm'",
            )
        if self.task != "causal_lm":
            require(self.num_labels >= 1, "num_labels", self.num_labels, "an int >= 1")


class TaskAwareFilters(nn.Module):
    """Filters ``g^k`` on layers ``config.layers`` plus optional stage-I heads.

    ``forward(hidden_states)`` → list of ``(B, T, d_f)`` filtered states in layer order.
    """

    def __init__(self, config: FilterConfig) -> None:
        super().__init__()
        self.config = config
        d_f = config.output_dim
        self.filters = nn.ModuleDict(
            {
                str(layer): make_filter(
                    config.hidden_size, d_f, config.nonlinear, config.activation
                )
                for layer in config.layers
            }
        )
        self.heads = nn.ModuleDict()
        self.poolers = nn.ModuleDict()
        if config.with_heads:
            self._build_heads()
        self.reset_parameters()

    def _build_heads(self) -> None:
        cfg = self.config
        n_out = cfg.vocab_size if cfg.task == "causal_lm" else cfg.num_labels
        for layer in cfg.layers:
            key = str(layer)
            if cfg.task == "sequence_classification":
                self.poolers[key] = nn.Linear(cfg.output_dim, cfg.output_dim)
            self.heads[key] = nn.Linear(cfg.output_dim, n_out)
        self.dropout = nn.Dropout(cfg.dropout)

    def reset_parameters(self) -> None:
        """Normal(0, init_std) weights and zero biases, as transformers' ``_init_weights``."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=self.config.init_std)
                nn.init.zeros_(module.bias)

    @property
    def layers(self) -> list[int]:
        return list(self.config.layers)

    def select(self, hidden_states: Sequence[torch.Tensor] | None) -> list[torch.Tensor]:
        """Pick this object's layers out of a model's ``hidden_states`` tuple."""
        if hidden_states is None:
            raise ValueError(
                "the model returned no hidden_states; call it with output_hidden_states=True "
                "(a model that cannot return hidden states cannot be used with TED/LWD)"
            )
        need = max(self.config.layers)
        if len(hidden_states) <= need:
            raise ValueError(
                f"filters use layer {need} but the model returned {len(hidden_states) - 1} "
                "layers of hidden states; allowed layers: 1.."
                f"{len(hidden_states) - 1}"
            )
        return [hidden_states[layer] for layer in self.config.layers]

    def forward(self, hidden_states: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """``hidden_states``: a model's full tuple (embeddings first); returns filter outputs."""
        states = self.select(hidden_states)
        return [
            self.filters[str(layer)](h) for layer, h in zip(self.config.layers, states, strict=True)
        ]

    def head_logits(self, filtered: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Stage-I logits per filter: ``(B, C)`` for sequence classification, else ``(B, T, C)``."""
        if not self.config.with_heads or not len(self.heads):
            raise ValueError("these filters have no heads (with_heads=False); stage I needs them")
        out = []
        for layer, z in zip(self.config.layers, filtered, strict=True):
            key = str(layer)
            if self.config.task == "sequence_classification":
                pooled = ACT2FN[self.config.activation](self.poolers[key](self.dropout(z[:, 0])))
                out.append(self.heads[key](self.dropout(pooled)))
            else:
                out.append(self.heads[key](self.dropout(z)))
        return out

    def task_loss(
        self,
        filtered: Sequence[torch.Tensor],
        labels: torch.Tensor,
        head_logits: Sequence[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Stage-I loss: the task loss of each filter's head, averaged over filters.

        ``head_logits`` (from :meth:`head_logits`) avoids running the heads a second time.
        """
        losses = []
        if head_logits is None:
            head_logits = self.head_logits(filtered)
        for logits in head_logits:
            if self.config.task == "sequence_classification":
                losses.append(classification_loss(logits, labels))
            elif self.config.task == "causal_lm":
                losses.append(causal_lm_loss(logits, labels))
            else:
                flat = logits.reshape(-1, logits.shape[-1]).float()
                losses.append(nn.functional.cross_entropy(flat, labels.reshape(-1).long()))
        return torch.stack(losses).mean()

    def drop_heads(self) -> TaskAwareFilters:
        """Remove the stage-I poolers and heads (stage II does not build them); returns self."""
        self.heads = nn.ModuleDict()
        self.poolers = nn.ModuleDict()
        self.config = dataclasses.replace(self.config, with_heads=False)
        return self

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        """Write ``filters_config.json`` and ``filters.safetensors`` (atomically)."""
        os.makedirs(directory, exist_ok=True)
        self.config.save_pretrained(directory)
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        save_tensors(state, os.path.join(directory, WEIGHTS_NAME))

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> TaskAwareFilters:
        config = FilterConfig.from_pretrained(directory)
        filters = cls(config)
        filters.load_state_dict(load_tensors(os.path.join(directory, WEIGHTS_NAME)))
        return filters

    @classmethod
    def for_model(
        cls,
        model: nn.Module,
        layers: Sequence[int],
        output_dim: int | None = None,
        nonlinear: bool = False,
        task: str | None = None,
        with_heads: bool = True,
        **kwargs,
    ) -> TaskAwareFilters:
        """Filters sized from a transformers model's config (hidden size, labels, vocab)."""
        from .mapping import hidden_size

        cfg = model.config
        if task is None:
            task = infer_task(model)
        config = FilterConfig(
            hidden_size=hidden_size(cfg),
            layers=list(layers),
            output_dim=output_dim,
            nonlinear=nonlinear,
            task=task,
            num_labels=getattr(cfg, "num_labels", 2),
            vocab_size=getattr(cfg, "vocab_size", None),
            with_heads=with_heads,
            init_std=getattr(cfg, "initializer_range", 0.02),
            **kwargs,
        )
        return cls(config)


def infer_task(model: nn.Module) -> str:
    """``causal_lm`` / ``token_classification`` / ``sequence_classification`` from the class."""
    name = type(model).__name__
    if "CausalLM" in name or "LMHead" in name:
        return "causal_lm"
    if "TokenClassification" in name:
        return "token_classification"
    return "sequence_classification"
