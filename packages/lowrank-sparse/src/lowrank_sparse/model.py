"""Apply LoSparse (or a baseline) to any transformers model; compact, merge, save and load."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from typing import Any

import torch
import transformers
from lmlab_common import (
    atomic_write_json,
    find_linear_modules,
    get_module,
    linear_shape,
    linear_weight,
    load_tensors,
    replace_module,
    require,
    save_tensors,
)
from torch import nn

from .config import LoSparseConfig, budget_config, rank_from_ratio
from .layer import LoSparseLinear, check_float_linear

LAYERS_FILE = "losparse_layers.json"
WEIGHTS_FILE = "losparse_model.safetensors"
FORMAT_VERSION = 1


def losparse_layers(model: nn.Module) -> dict[str, LoSparseLinear]:
    """``{name: layer}`` of every :class:`LoSparseLinear` in ``model``."""
    return {n: m for n, m in model.named_modules() if isinstance(m, LoSparseLinear)}


def apply_losparse(
    model: nn.Module,
    config: LoSparseConfig,
    calibration: Iterable[Any] | None = None,
) -> nn.Module:
    """Replace the layers matched by ``config`` with :class:`LoSparseLinear` (in place).

    L, R are the top-r SVD of W split as sqrt(Sigma) and S = W - L R, so the model's output is
    unchanged up to float error. ``calibration`` (an iterable of model inputs: dicts of
    tensors or tensors) is needed only for ``low_rank_ratio="auto"``. When ``config.budget``
    is set, ``final_sparse_ratio`` is derived from the actual ranks so that the total kept
    parameters match the budget. The resolved config is stored as ``model.losparse_config``.
    """
    require(isinstance(config, LoSparseConfig), "config", type(config).__name__, "LoSparseConfig")
    require(not losparse_layers(model), "model", "already has LoSparse layers", "a plain model")
    modules = find_linear_modules(model, config.target_modules, config.exclude_modules)
    shapes = {name: check_float_linear(name, m) for name, m in modules.items()}
    ranks = _resolve_ranks(model, modules, shapes, config, calibration)
    has_sparse = config.method != "low_rank_only"
    for name, module in modules.items():
        layer = LoSparseLinear.from_linear(
            module, ranks[name], has_sparse, config.structured_direction, name=name
        )
        replace_module(model, name, layer)
    resolved = config
    if config.budget is not None and has_sparse:
        dense = sum(o * i for o, i in shapes.values())
        lowrank = sum(ranks[n] * (o + i) for n, (o, i) in shapes.items())
        final = (config.budget * dense - lowrank) / dense
        require(
            final >= 0,
            "budget",
            config.budget,
            f">= the low-rank part's share {lowrank / dense:.4f} (lower low_rank_ratio or rank)",
        )
        resolved = config.replace(final_sparse_ratio=min(final, config.initial_sparse_ratio))
    model.losparse_config = resolved
    return model


def apply_low_rank_only(
    model: nn.Module, config: LoSparseConfig | float, **fields: Any
) -> nn.Module:
    """Baseline: W replaced by its truncated SVD L R (no S). ``config`` may be a budget fraction:
    rank per layer = floor(budget * d_out * d_in / (d_out + d_in))."""
    if not isinstance(config, LoSparseConfig):
        config = budget_config(config, method="low_rank_only", **fields)
    return apply_losparse(model, config.replace(method="low_rank_only"))


def apply_prune_only(model: nn.Module, config: LoSparseConfig | float, **fields: Any) -> nn.Module:
    """Baseline: rank 0, S = W, rows of W pruned with the same scores and schedule (train with
    :class:`LoSparsePruner`). ``config`` may be a budget fraction (final kept share of W)."""
    if not isinstance(config, LoSparseConfig):
        config = budget_config(config, method="prune_only", **fields)
    return apply_losparse(model, config.replace(method="prune_only"))


def _resolve_ranks(model, modules, shapes, config, calibration) -> dict[str, int]:
    if config.method == "prune_only":
        return dict.fromkeys(modules, 0)
    if config.method == "low_rank_only" and config.budget is not None and config.rank is None:
        return low_rank_budget_ranks(shapes, config.budget)
    if config.rank is not None:
        return dict.fromkeys(modules, config.rank)
    if config.low_rank_ratio == "auto":
        require(config.budget is not None, "budget", None, "a fraction when low_rank_ratio='auto'")
        require(calibration is not None, "calibration", None, "model inputs for 'auto' ranks")
        grams = collect_input_grams(model, modules, calibration)
        return {
            n: auto_rank(
                modules[n],
                grams[n],
                config.budget,
                config.auto_rank_candidates,
                config.structured_direction,
            )
            for n in modules
        }
    return {n: rank_from_ratio(config.low_rank_ratio, o, i) for n, (o, i) in shapes.items()}


def low_rank_budget_ranks(shapes: dict[str, tuple[int, int]], budget: float) -> dict[str, int]:
    """Ranks whose total r (d_out + d_in) is as close to ``budget`` of the dense parameters as
    possible without exceeding it: floor per layer, then one more rank to the layers with the
    largest rounding remainder while the total allows it."""
    ideal = {n: budget * o * i / (o + i) for n, (o, i) in shapes.items()}
    ranks = {n: max(1, math.floor(v)) for n, v in ideal.items()}
    room = budget * sum(o * i for o, i in shapes.values())
    room -= sum(ranks[n] * (o + i) for n, (o, i) in shapes.items())
    for n in sorted(ideal, key=lambda n: ranks[n] - ideal[n]):
        cost = sum(shapes[n])
        if cost <= room and ranks[n] + 1 < min(shapes[n]):
            ranks[n] += 1
            room -= cost
    return ranks


@torch.no_grad()
def collect_input_grams(
    model: nn.Module, modules: dict[str, nn.Module], calibration: Iterable[Any]
) -> dict[str, torch.Tensor]:
    """Per layer, G = sum over calibration tokens of x x^T (d_in, d_in), in float64."""
    grams: dict[str, torch.Tensor] = {}

    def hook(name):
        def fn(_module, args):
            x = args[0].detach().reshape(-1, args[0].shape[-1]).double()
            grams[name] = grams.get(name, 0) + x.T @ x

        return fn

    handles = [m.register_forward_pre_hook(hook(n)) for n, m in modules.items()]
    try:
        count = 0
        for batch in calibration:
            model(**batch) if isinstance(batch, dict) else model(batch)
            count += 1
        require(count > 0, "calibration", "empty", "at least one batch")
    finally:
        for h in handles:
            h.remove()
    return grams


def auto_rank(
    module: nn.Module, gram: torch.Tensor, budget: float, candidates: int, direction: str = "row"
) -> int:
    """Rank in [1, floor(budget*d_out*d_in/(d_out+d_in))] minimising the activation-weighted error
    ||(W - L R - S_k) X^T||^2 when the rest of the layer's budget keeps the best units of S."""
    check_float_linear("module", module)
    weight = linear_weight(module).detach().double()
    d_out, d_in = weight.shape
    total = budget * d_out * d_in
    r_max = max(1, min(math.floor(total / (d_out + d_in)), min(d_out, d_in) - 1))
    grid = sorted({max(1, round(r_max * j / (candidates - 1))) for j in range(candidates)})
    u, s, vh = torch.linalg.svd(weight, full_matrices=False)
    best, best_err = grid[-1], math.inf
    for r in grid:
        residual = weight - (u[:, :r] * s[:r]) @ vh[:r]  # S = W - L R
        if direction == "row":
            unit_err = ((residual @ gram) * residual).sum(1)  # ||S_i X^T||^2 per row
            unit = d_in
        else:
            unit_err = (residual**2).sum(0) * gram.diagonal()
            unit = d_out
        k = max(0, min(unit_err.numel(), math.floor((total - r * (d_out + d_in)) / unit)))
        err = float(unit_err.sum() - unit_err.topk(k).values.sum()) if k else float(unit_err.sum())
        if err < best_err:
            best, best_err = r, err
    return best


def compact(model: nn.Module) -> nn.Module:
    """Switch every LoSparse layer to the compact form (only kept units of S stored)."""
    layers = losparse_layers(model)
    require(bool(layers), "model", type(model).__name__, "a model with LoSparse layers")
    for layer in layers.values():
        layer.compact()
    return model


def merge_losparse(model: nn.Module) -> nn.Module:
    """Replace every LoSparse layer by a plain ``nn.Linear``/``Conv1D`` with W = L R + S.

    The result is a plain transformers model (``save_pretrained`` works) with the same outputs.
    """
    layers = losparse_layers(model)
    require(bool(layers), "model", type(model).__name__, "a model with LoSparse layers")
    for name, layer in layers.items():
        replace_module(model, name, layer.to_dense())
    if hasattr(model, "losparse_config"):
        del model.losparse_config
    return model


# ---------------------------------------------------------------------- save / load
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


def save_pretrained(model: nn.Module, directory: str | os.PathLike) -> str:
    """Save a LoSparse model: config, per-layer ranks / kept units, and weights with S stored
    compactly (k units plus indices). Other parameters (embeddings, norms, head) are saved too,
    so :func:`load_losparse` rebuilds the trained model onto the base architecture."""
    layers = losparse_layers(model)
    require(bool(layers), "model", type(model).__name__, "a model with LoSparse layers")
    config: LoSparseConfig = getattr(model, "losparse_config", None) or LoSparseConfig()
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
            }
        )
    prefixes = tuple(n + "." for n in layers)
    for key, value in model.state_dict().items():
        if not key.startswith(prefixes):
            tensors[key] = value.detach().cpu().contiguous().clone()
    config.save_pretrained(directory)
    if hasattr(model, "config") and hasattr(model.config, "save_pretrained"):
        model.config.save_pretrained(directory)  # architecture, so base=None can rebuild it
    atomic_write_json(
        os.path.join(directory, LAYERS_FILE),
        {
            "format_version": FORMAT_VERSION,
            "model_class": type(model).__name__,
            "layers": meta,
        },
    )
    save_tensors(tensors, os.path.join(directory, WEIGHTS_FILE))
    return os.fspath(directory)


def load_losparse(
    base: nn.Module | str | os.PathLike | None, directory: str | os.PathLike
) -> nn.Module:
    """Rebuild a saved LoSparse model (compact form) onto ``base`` (a model or a path/hub id of
    the same architecture; ``None``: the architecture saved in ``directory``, since every weight
    is stored there). No ratio needs to be given. A base whose layers do not match raises
    ``ValueError`` naming the first mismatched layer and both shapes."""
    directory = os.fspath(directory)
    layers_path = os.path.join(directory, LAYERS_FILE)
    if not os.path.isfile(layers_path):
        raise FileNotFoundError(f"no {LAYERS_FILE} in {directory!r}: not a LoSparse directory")
    with open(layers_path, encoding="utf-8") as fh:
        info = json.load(fh)
    require(
        info.get("format_version") == FORMAT_VERSION,
        "format_version",
        info.get("format_version"),
        str(FORMAT_VERSION),
    )
    config = LoSparseConfig.from_pretrained(directory)
    cls = getattr(transformers, info["model_class"], None) or transformers.AutoModel
    if base is None:
        hf_config = transformers.AutoConfig.from_pretrained(directory)
        base = (
            cls._from_config(hf_config)
            if cls is not transformers.AutoModel
            else (transformers.AutoModel.from_config(hf_config))
        )
        base.eval()
    elif isinstance(base, str | os.PathLike):
        base = cls.from_pretrained(os.fspath(base))
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
    model.losparse_config = config
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


__all__ = [
    "apply_losparse",
    "apply_low_rank_only",
    "apply_prune_only",
    "auto_rank",
    "collect_input_grams",
    "compact",
    "load_losparse",
    "losparse_layers",
    "merge_losparse",
    "save_pretrained",
]
