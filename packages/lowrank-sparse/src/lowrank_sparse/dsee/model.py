"""Apply DSEE to any transformers model, report trainable parameters, merge.

Save and load live in :mod:`lowrank_sparse.dsee.serialization`; the method state (config,
removed heads, masks of pruned non-adapted layers) is the model's
:class:`~lowrank_sparse.state.MethodState`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import torch
from lmlab_common import find_linear_modules, get_module, replace_module, require
from torch import nn

from ..state import MethodState, clear_state, find_state, get_state, set_state
from .config import DSEEConfig
from .decompose import select_support
from .layer import DSEELinear


def dsee_layers(model: nn.Module) -> dict[str, DSEELinear]:
    """``{dotted_name: DSEELinear}`` in model order."""
    return {n: m for n, m in model.named_modules() if isinstance(m, DSEELinear)}


def get_dsee_config(model: nn.Module) -> DSEEConfig:
    """The :class:`DSEEConfig` a DSEE model carries (``ValueError`` if none)."""
    return get_state(model, "dsee").config


def dsee_state(model: nn.Module) -> MethodState:
    """The model's DSEE :class:`MethodState` (config, ``pruned_heads``, ``masks``)."""
    return get_state(model, "dsee")


def apply_dsee(model: nn.Module, config: DSEEConfig | None = None) -> nn.Module:
    """Add DSEE updates to ``model`` in place and return it.

    Every linear layer matching ``config.target_modules`` becomes a :class:`DSEELinear` whose
    sparse support is chosen from its pretrained weight (``config.sparse_method``). All
    parameters are then frozen except the adapters and the task head (see
    :func:`mark_trainable`).
    """
    config = DSEEConfig() if config is None else config
    require(isinstance(config, DSEEConfig), "config", type(config).__name__, "a DSEEConfig")
    require(not dsee_layers(model), "model", type(model).__name__, "a model without DSEE adapters")
    require(find_state(model) is None, "model", "already carries LoSparse state", "a plain model")
    targets = find_linear_modules(model, config.target_modules, config.exclude_modules)
    generator = torch.Generator().manual_seed(config.seed)
    supports = {}
    for name, module in targets.items():
        weight = module.weight
        require(weight.is_floating_point(), f"{name}.weight.dtype", weight.dtype, "a float dtype")
        supports[name] = select_support(
            module.weight if isinstance(module, nn.Linear) else module.weight.t(),
            config.num_sparse,
            config.sparse_method,
            generator=generator,
            grebsmo_iters=config.grebsmo_iters,
            grebsmo_rank_step=config.grebsmo_rank_step,
            grebsmo_inner_iters=config.grebsmo_inner_iters,
            grebsmo_threshold=config.grebsmo_threshold,
            grebsmo_max_rank_ratio=config.grebsmo_max_rank_ratio,
        )
    wrap_layers(model, config, supports, generator)
    return model


def wrap_layers(
    model: nn.Module,
    config: DSEEConfig,
    supports: dict[str, torch.Tensor],
    generator: torch.Generator | None,
) -> None:
    """Wrap the ``supports`` layers; register (or update) the model's DSEE state."""
    for name, index in supports.items():
        base = get_module(model, name)
        layer = DSEELinear(
            base, config.r, config.lora_alpha, index, config.lora_init_std, generator
        )
        replace_module(model, name, layer)
    state = find_state(model)
    if state is None:
        set_state(model, MethodState("dsee", config))
    else:  # heads removed before wrapping (load_dsee): keep their record
        state.config = config
    mark_trainable(model)


def head_parameter_names(model: nn.Module, config: DSEEConfig) -> list[str]:
    """Names of the task-head parameters trained beside the adapters.

    With ``config.trainable_patterns`` set: parameters whose name matches any regex (searched).
    Otherwise the parameters outside the backbone (``model.base_model_prefix``), as in the
    official code (which freezes everything under ``bert.``, pooler included).
    """
    names = [n for n, _ in model.named_parameters()]
    if config.trainable_patterns is not None:
        return [n for n in names if any(re.search(p, n) for p in config.trainable_patterns)]
    prefix = getattr(model, "base_model_prefix", "")
    if not prefix or not hasattr(model, prefix):
        return []
    return [n for n in names if not n.startswith(prefix + ".")]


def mark_trainable(model: nn.Module) -> list[str]:
    """Freeze everything except A, B, the sparse values (and biases with ``train_bias``) of
    every DSEE layer and the task head; return the names left trainable."""
    config = get_dsee_config(model)
    head = set(head_parameter_names(model, config))
    trainable = []
    for name, param in model.named_parameters():
        leaf = name.rsplit(".", 1)[-1]
        is_adapter = leaf in ("lora_A", "lora_B", "sparse_values")
        is_bias = config.train_bias and name.endswith("base_layer.bias")
        on = is_adapter or is_bias or name in head
        param.requires_grad_(on)
        if on:
            trainable.append(name)
    return trainable


@dataclass
class DSEEParameterReport:
    """Parameter counts. ``trainable`` counts the N sparse entries, not dense storage."""

    total: int  # parameters of the model without adapters (what the fraction refers to)
    trainable: int  # every parameter with requires_grad (adapters + head + biases)
    low_rank: int  # sum of r (d_in + d_out)
    sparse: int  # sum of N
    head: int  # trainable parameters that are not adapters
    layers: dict[str, int] = field(default_factory=dict)  # per DSEE layer r(d_in+d_out)+N

    @property
    def fraction(self) -> float:
        return self.trainable / max(self.total, 1)

    def __str__(self) -> str:
        return (
            f"trainable {self.trainable:,} of {self.total:,} ({100 * self.fraction:.3f}%): "
            f"low-rank {self.low_rank:,}, sparse {self.sparse:,}, head/other {self.head:,}"
        )


def parameter_report(model: nn.Module) -> DSEEParameterReport:
    layers = dsee_layers(model)
    adapter_names = {
        f"{n}.{leaf}" for n in layers for leaf in ("lora_A", "lora_B", "sparse_values")
    }
    total = trainable = low_rank = sparse = 0
    for name, p in model.named_parameters():
        if name in adapter_names:
            if name.endswith("sparse_values"):
                sparse += p.numel()
            else:
                low_rank += p.numel()
        else:
            total += p.numel()
        if p.requires_grad:
            trainable += p.numel()
    head = trainable - low_rank - sparse
    per_layer = {n: m.trainable_entries() for n, m in layers.items()}
    return DSEEParameterReport(total, trainable, low_rank, sparse, head, per_layer)


def merge_dsee(model: nn.Module) -> nn.Module:
    """Replace every DSEE layer by a plain layer holding ``M * (W + delta)`` (in place);
    the result is a plain transformers model with the same outputs."""
    layers = dsee_layers(model)
    require(bool(layers), "model", type(model).__name__, "a model with DSEE adapters")
    for name, layer in layers.items():
        merged = layer.merged_layer()
        merged.requires_grad_(False)
        replace_module(model, name, merged)
    clear_state(model)
    for p in model.parameters():
        p.requires_grad_(True)
    return model
