"""Apply DSEE to any transformers model, report trainable parameters, merge, save and load."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field

import torch
from lmlab_common import (
    atomic_write_json,
    find_linear_modules,
    get_module,
    is_linear,
    linear_shape,
    load_tensors,
    replace_module,
    require,
    save_tensors,
)
from torch import nn

from .config import DSEEConfig
from .decompose import select_support
from .layer import DSEELinear

ADAPTER_FILE = "dsee_adapter.safetensors"
STATE_FILE = "dsee_state.json"


def dsee_layers(model: nn.Module) -> dict[str, DSEELinear]:
    """``{dotted_name: DSEELinear}`` in model order."""
    return {n: m for n, m in model.named_modules() if isinstance(m, DSEELinear)}


def get_dsee_config(model: nn.Module) -> DSEEConfig:
    config = getattr(model, "dsee_config", None)
    if not isinstance(config, DSEEConfig):
        raise ValueError(
            f"model={type(model).__name__} has no DSEE adapters; allowed: a model returned by "
            "apply_dsee or load_dsee"
        )
    return config


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
    _wrap(model, config, supports, generator)
    return model


def _wrap(
    model: nn.Module,
    config: DSEEConfig,
    supports: dict[str, torch.Tensor],
    generator: torch.Generator | None,
) -> None:
    for name, index in supports.items():
        base = get_module(model, name)
        layer = DSEELinear(
            base, config.r, config.lora_alpha, index, config.lora_init_std, generator
        )
        replace_module(model, name, layer)
    model.dsee_config = config
    if not hasattr(model, "dsee_pruned_heads"):
        model.dsee_pruned_heads = {}
    if not hasattr(model, "dsee_masks"):
        model.dsee_masks = {}
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
    for attr in ("dsee_config",):
        if hasattr(model, attr):
            delattr(model, attr)
    for p in model.parameters():
        p.requires_grad_(True)
    return model


def save_dsee(model: nn.Module, directory: str | os.PathLike) -> str:
    """Write the config, the adapters (A, B, support, values, masks), the trained head, the
    pruning masks of non-adapted layers and the removed heads to ``directory``."""
    config = get_dsee_config(model)
    layers = dsee_layers(model)
    tensors: dict[str, torch.Tensor] = {}
    for name, layer in layers.items():
        tensors[f"{name}.lora_A"] = layer.lora_A
        tensors[f"{name}.lora_B"] = layer.lora_B
        tensors[f"{name}.sparse_index"] = layer.sparse_index
        tensors[f"{name}.sparse_values"] = layer.sparse_values
        if layer.weight_mask is not None:
            tensors[f"{name}.weight_mask"] = layer.weight_mask
    params = dict(model.named_parameters())
    head = [n for n in head_parameter_names(model, config) if n in params]
    for name in head:
        tensors[f"head::{name}"] = params[name]
    if config.train_bias:
        for name, layer in layers.items():
            if layer.bias is not None:
                tensors[f"bias::{name}"] = layer.bias
    for name, mask in getattr(model, "dsee_masks", {}).items():
        tensors[f"mask::{name}"] = mask
    os.makedirs(directory, exist_ok=True)
    config.save_pretrained(directory)
    save_tensors(tensors, os.path.join(directory, ADAPTER_FILE))
    state = {
        "layers": {n: list(m.shape) for n, m in layers.items()},
        "pruned_heads": getattr(model, "dsee_pruned_heads", {}),
    }
    atomic_write_json(os.path.join(directory, STATE_FILE), state)
    return os.fspath(directory)


def load_dsee(model: nn.Module, directory: str | os.PathLike) -> nn.Module:
    """Rebuild a saved DSEE model on a fresh copy of its base ``model`` (in place).

    Removes the recorded heads, wraps the recorded layers with their saved supports (no
    decomposition is re-run), loads adapters, head, masks. A base model that does not fit
    raises ``ValueError`` naming the first mismatched layer and both shapes.
    """
    from .prune import remove_heads

    require(not dsee_layers(model), "model", type(model).__name__, "a model without adapters")
    config = DSEEConfig.from_pretrained(directory)
    with open(os.path.join(directory, STATE_FILE), encoding="utf-8") as fh:
        state = json.load(fh)
    tensors = load_tensors(os.path.join(directory, ADAPTER_FILE))
    if state["pruned_heads"]:
        remove_heads(model, {k: list(v) for k, v in state["pruned_heads"].items()})
    supports = {}
    for name, shape in state["layers"].items():
        try:
            module = get_module(model, name)
        except ValueError as err:
            raise ValueError(
                f"saved layer {name!r} does not exist in {type(model).__name__}; allowed: the "
                "base model the adapter was trained on"
            ) from err
        require(is_linear(module), name, type(module).__name__, "a linear layer")
        have = list(linear_shape(module))
        if have != list(shape):
            raise ValueError(
                f"layer {name!r} has shape {tuple(have)} but the saved adapter expects "
                f"{tuple(shape)}; allowed: the base model the adapter was trained on"
            )
        supports[name] = tensors[f"{name}.sparse_index"]
    _wrap(model, config, supports, None)
    params = dict(model.named_parameters())
    layers = dsee_layers(model)
    with torch.no_grad():
        for name, layer in layers.items():
            layer.lora_A.copy_(tensors[f"{name}.lora_A"])
            layer.lora_B.copy_(tensors[f"{name}.lora_B"])
            layer.sparse_values.copy_(tensors[f"{name}.sparse_values"])
            if f"{name}.weight_mask" in tensors:
                layer.weight_mask = tensors[f"{name}.weight_mask"].to(layer.weight.device)
        for key, value in tensors.items():
            kind, _, name = key.partition("::")
            if kind == "head" or kind == "bias":
                target = params[name] if kind == "head" else layers[name].bias
                if tuple(target.shape) != tuple(value.shape):
                    raise ValueError(
                        f"parameter {name!r} has shape {tuple(target.shape)} but the saved "
                        f"adapter has {tuple(value.shape)}; allowed: the same base model"
                    )
                target.copy_(value)
            elif kind == "mask":
                weight = get_module(model, name).weight
                weight.mul_(value.to(weight.dtype).view_as(weight))
                model.dsee_masks[name] = value
    return model
