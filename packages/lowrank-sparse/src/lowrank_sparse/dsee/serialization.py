"""Save and load DSEE models: the same shape as LoSparse's ``save_losparse``/``load_losparse``.

A directory holds ``dsee_config.json``, ``dsee_state.json`` (adapted layers and their shapes,
removed heads, the base model's class, path and dtype), ``dsee_adapter.safetensors`` (A, B,
sparse supports and values, final-weight masks, the trained head, masks of pruned non-adapted
layers) and the transformers ``config.json``. Only what DSEE trains is stored; the frozen base
weights come from ``base``.
"""

from __future__ import annotations

import json
import os

import torch
import transformers
from lmlab_common import (
    atomic_write_json,
    get_module,
    is_linear,
    linear_shape,
    load_tensors,
    require,
    save_tensors,
)
from torch import nn

from ..state import MethodState, set_state
from .config import DSEEConfig
from .model import dsee_layers, dsee_state, head_parameter_names, wrap_layers
from .prune import remove_heads

ADAPTER_FILE = "dsee_adapter.safetensors"
STATE_FILE = "dsee_state.json"


def save_dsee(model: nn.Module, directory: str | os.PathLike) -> str:
    """Write the config, the adapters (A, B, support, values, masks), the trained head, the
    pruning masks of non-adapted layers and the removed heads to ``directory``."""
    state = dsee_state(model)
    config = state.config
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
    for name, mask in state.masks.items():
        tensors[f"mask::{name}"] = mask
    os.makedirs(directory, exist_ok=True)
    config.save_pretrained(directory)
    hf_config = getattr(model, "config", None)
    if hf_config is not None and hasattr(hf_config, "save_pretrained"):
        hf_config.save_pretrained(directory)  # head sizes etc., so a path base rebuilds alike
    save_tensors(tensors, os.path.join(directory, ADAPTER_FILE))
    first = next(iter(layers.values()), None)
    record = {
        "layers": {n: list(m.shape) for n, m in layers.items()},
        "pruned_heads": {k: list(v) for k, v in state.pruned_heads.items()},
        "model_class": type(model).__name__,
        "base_model": getattr(hf_config, "_name_or_path", "") or "",
        "dtype": str(first.weight.dtype).removeprefix("torch.") if first else "float32",
    }
    atomic_write_json(os.path.join(directory, STATE_FILE), record)
    return os.fspath(directory)


def _base_model(base: nn.Module | str | os.PathLike | None, directory: str, record: dict):
    if isinstance(base, nn.Module):
        return base
    if base is None:
        base = record.get("base_model") or ""
        require(
            bool(base) and (os.path.isdir(base) or not os.path.isabs(base)),
            "base",
            None,
            f"a model or a path (the recorded base {base!r} is not available)",
        )
    cls = getattr(transformers, record.get("model_class", ""), None) or transformers.AutoModel
    kwargs = {}
    if os.path.isfile(os.path.join(directory, "config.json")):
        kwargs["config"] = transformers.AutoConfig.from_pretrained(directory)
    model = cls.from_pretrained(os.fspath(base), **kwargs)
    return model.to(getattr(torch, record.get("dtype", "float32")))


def load_dsee(
    base: nn.Module | str | os.PathLike | None, directory: str | os.PathLike
) -> nn.Module:
    """Rebuild a saved DSEE model (a :func:`save_dsee` directory or a Trainer checkpoint
    written with :class:`~lowrank_sparse.CheckpointCallback`).

    ``base``: a fresh copy of the base model (used in place), a path/hub id of it, or
    ``None`` (the base path recorded at save time). Removes the recorded heads, wraps the
    recorded layers with their saved supports (no decomposition is re-run), loads adapters,
    head and masks. Nothing needs re-specifying. A base model that does not fit raises
    ``ValueError`` naming the first mismatched layer and both shapes.
    """
    directory = os.fspath(directory)
    path = os.path.join(directory, STATE_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no {STATE_FILE} in {directory!r}: not a DSEE directory")
    with open(path, encoding="utf-8") as fh:
        record = json.load(fh)
    model = _base_model(base, directory, record)
    require(not dsee_layers(model), "model", type(model).__name__, "a model without adapters")
    config = DSEEConfig.from_pretrained(directory)
    tensors = load_tensors(os.path.join(directory, ADAPTER_FILE))
    set_state(model, MethodState("dsee", config))
    if record["pruned_heads"]:
        remove_heads(model, {k: list(v) for k, v in record["pruned_heads"].items()})
    supports = {}
    for name, shape in record["layers"].items():
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
    wrap_layers(model, config, supports, None)
    params = dict(model.named_parameters())
    layers = dsee_layers(model)
    masks = dsee_state(model).masks
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
                masks[name] = value
    return model


__all__ = ["load_dsee", "save_dsee"]
