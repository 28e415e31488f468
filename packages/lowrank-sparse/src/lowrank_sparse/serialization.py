"""Save and load LoSparse models in the package's own compact format.

A directory holds ``losparse_config.json`` (the resolved config), ``losparse_layers.json``
(per layer: shape, rank, kept units, direction, kernel; the model class and dtype),
``losparse_model.safetensors`` (L, [R; S_k] with kept indices, and every other tensor of the
model) and the transformers ``config.json``, so :func:`load_losparse` rebuilds the model with
nothing re-specified, onto a base model, a path, or the saved architecture alone.
"""

from __future__ import annotations

import json
import os
from typing import Any

import torch
import transformers
from lmlab_common import (
    atomic_write_json,
    get_module,
    linear_shape,
    load_tensors,
    replace_module,
    require,
    save_tensors,
)
from torch import nn

from .apply import losparse_layers
from .config import LoSparseConfig
from .layer import LoSparseLinear
from .state import MethodState, find_state, set_state

LAYERS_FILE = "losparse_layers.json"
WEIGHTS_FILE = "losparse_model.safetensors"
FORMAT_VERSION = 1


def _compact_tensors(name: str, layer: LoSparseLinear) -> dict[str, torch.Tensor]:
    """The compact tensors of a layer, whatever its current form (the model is not changed)."""
    out: dict[str, torch.Tensor] = {}
    r = layer.rank
    if layer.compacted:
        idx = layer.kept_index
        if layer.direction == "row":
            right, kept = layer.fused[:r], layer.fused[r:]
        else:
            right, kept = layer.right, layer.sparse
    else:
        right = layer.right
        if layer.has_sparse:
            idx = layer.keep_mask.nonzero().flatten().to(layer.sparse.device)
            kept = layer.sparse[idx] if layer.direction == "row" else layer.sparse[:, idx]
        else:
            idx, kept = None, None
    if r:
        out[f"{name}.left"] = layer.left
        out[f"{name}.right"] = right
    if layer.has_sparse:
        out[f"{name}.sparse"] = kept
        out[f"{name}.kept_index"] = idx
    if layer.bias is not None:
        out[f"{name}.bias"] = layer.bias
    return {k: v.detach().cpu().contiguous().clone() for k, v in out.items()}


def save_losparse(model: nn.Module, directory: str | os.PathLike) -> str:
    """Save a LoSparse model: config, per-layer ranks / kept units, and weights with S stored
    compactly (k units plus indices), whatever the model's current form (the model is not
    changed). Other parameters (embeddings, norms, head) are saved too, so
    :func:`load_losparse` rebuilds the trained model, in the saved dtype, without any ratio."""
    layers = losparse_layers(model)
    require(bool(layers), "model", type(model).__name__, "a model with LoSparse layers")
    state = find_state(model)
    config = state.config if state is not None and state.method == "losparse" else None
    config = config or LoSparseConfig()
    os.makedirs(directory, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    meta: list[dict[str, Any]] = []
    for name, layer in layers.items():
        tensors.update(_compact_tensors(name, layer))
        meta.append(
            {
                "name": name,
                "d_out": layer.d_out,
                "d_in": layer.d_in,
                "rank": layer.rank,
                "has_sparse": layer.has_sparse,
                "kept": layer.num_kept(),
                "direction": layer.direction,
                "bias": layer.bias is not None,
                "base_type": layer.base_type,
                "kernel": layer.kernel,
            }
        )
    prefixes = tuple(n + "." for n in layers)
    for key, value in model.state_dict().items():
        if not key.startswith(prefixes):
            tensors[key] = value.detach().cpu().contiguous().clone()
    first = next(iter(layers.values()))
    ref = next(p for p in (first.left, first.fused, first.sparse, first.right) if p is not None)
    dtype = str(ref.dtype).removeprefix("torch.")
    config.save_pretrained(directory)
    if hasattr(model, "config") and hasattr(model.config, "save_pretrained"):
        model.config.save_pretrained(directory)  # architecture, so base=None can rebuild it
    atomic_write_json(
        os.path.join(directory, LAYERS_FILE),
        {
            "format_version": FORMAT_VERSION,
            "model_class": type(model).__name__,
            "dtype": dtype,
            "layers": meta,
        },
    )
    save_tensors(tensors, os.path.join(directory, WEIGHTS_FILE))
    return os.fspath(directory)


def _read_layers(directory: str) -> dict[str, Any]:
    layers_path = os.path.join(directory, LAYERS_FILE)
    if not os.path.isfile(layers_path):
        hint = ""
        if os.path.isfile(os.path.join(directory, "model.safetensors")):
            hint = (
                " (a Trainer checkpoint written without the package's callback: pass "
                "LoSparsePruner or LoSparseCheckpointCallback in Trainer(callbacks=...) so each "
                "checkpoint is loadable)"
            )
        raise FileNotFoundError(
            f"no {LAYERS_FILE} in {directory!r}: not a LoSparse directory{hint}"
        )
    with open(layers_path, encoding="utf-8") as fh:
        info = json.load(fh)
    require(
        info.get("format_version") == FORMAT_VERSION,
        "format_version",
        info.get("format_version"),
        str(FORMAT_VERSION),
    )
    return info


def load_losparse(
    base: nn.Module | str | os.PathLike | None, directory: str | os.PathLike
) -> nn.Module:
    """Rebuild a saved LoSparse model (compact form) from ``directory`` (a
    :func:`save_losparse` directory or a Trainer checkpoint written with
    :class:`LoSparsePruner` / :class:`LoSparseCheckpointCallback` among the callbacks).

    ``base``: a model of the same architecture (used in place, its dtype kept), a path/hub id
    of one, or ``None`` (the architecture saved in ``directory``, since every weight is stored
    there). With a path or ``None`` the model comes back in the saved dtype (e.g. bfloat16).
    No ratio needs to be given. A base whose layers do not match raises ``ValueError`` naming
    the first mismatched layer and both shapes."""
    directory = os.fspath(directory)
    info = _read_layers(directory)
    config = LoSparseConfig.from_pretrained(directory)
    cls = getattr(transformers, info["model_class"], None) or transformers.AutoModel
    saved_dtype = getattr(torch, info.get("dtype", "float32"))
    if base is None:
        hf_config = transformers.AutoConfig.from_pretrained(directory)
        base = (
            cls._from_config(hf_config)
            if cls is not transformers.AutoModel
            else (transformers.AutoModel.from_config(hf_config))
        )
        base = base.to(saved_dtype).eval()
    elif isinstance(base, str | os.PathLike):
        base = cls.from_pretrained(os.fspath(base)).to(saved_dtype)
    model = base
    require(not losparse_layers(model), "base", "has LoSparse layers", "a plain base model")
    tensors = load_tensors(os.path.join(directory, WEIGHTS_FILE))
    for m in info["layers"]:
        name = m["name"]
        try:
            module = get_module(model, name)
            shape = linear_shape(module)
        except ValueError as err:
            raise ValueError(
                f"base model does not match the saved LoSparse model: layer {name!r} "
                f"(saved shape {m['d_out']}x{m['d_in']}) is missing or not linear in "
                f"{type(model).__name__}"
            ) from err
        if shape != (m["d_out"], m["d_in"]):
            raise ValueError(
                f"base model does not match the saved LoSparse model: first mismatched layer "
                f"{name!r} has shape {shape[0]}x{shape[1]} (d_out x d_in) in the base but "
                f"{m['d_out']}x{m['d_in']} in {directory!r}"
            )
        weight = module.weight
        layer = LoSparseLinear(
            m["d_in"],
            m["d_out"],
            m["rank"],
            has_sparse=m["has_sparse"],
            bias=m["bias"],
            direction=m["direction"],
            kept=m["kept"],
            base_type=m["base_type"],
            dtype=weight.dtype,
            device=weight.device,
        )
        layer.kernel = m.get("kernel", "fused")
        _fill(layer, name, tensors)
        replace_module(model, name, layer)
    prefixes = tuple(m["name"] + "." for m in info["layers"])
    rest = {k: v for k, v in tensors.items() if not k.startswith(prefixes)}
    own = model.state_dict()
    for key, value in rest.items():
        if key not in own or own[key].shape != value.shape:
            got = tuple(own[key].shape) if key in own else "missing"
            raise ValueError(
                f"base model does not match the saved LoSparse model: first mismatched tensor "
                f"{key!r} has shape {got} in the base but {tuple(value.shape)} saved"
            )
    missing = [k for k in own if not k.startswith(prefixes) and k not in rest]
    require(not missing, "base", f"extra tensors {missing[:5]}", "the saved architecture")
    with torch.no_grad():
        for key, value in rest.items():
            own[key].copy_(value)
    set_state(model, MethodState("losparse", config))
    return model


def _fill(layer: LoSparseLinear, name: str, tensors: dict[str, torch.Tensor]) -> None:
    with torch.no_grad():
        r = layer.rank
        right = tensors.get(f"{name}.right")
        if r:
            layer.left.copy_(tensors[f"{name}.left"])
        if layer.has_sparse:
            layer.kept_index.copy_(tensors[f"{name}.kept_index"])
            kept = tensors[f"{name}.sparse"]
        if layer.direction == "row":
            parts = ([right] if r else []) + ([kept] if layer.has_sparse else [])
            if parts:
                layer.fused.copy_(torch.cat(parts))
        else:
            if r:
                layer.right.copy_(right)
            if layer.has_sparse:
                layer.sparse.copy_(kept)
        if layer.bias is not None:
            layer.bias.copy_(tensors[f"{name}.bias"])


__all__ = ["load_losparse", "save_losparse"]
