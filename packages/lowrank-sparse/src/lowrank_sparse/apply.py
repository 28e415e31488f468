"""Apply LoSparse (or an equal-budget baseline) to any transformers model; compact; merge."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

from lmlab_common import find_linear_modules, replace_module, require
from torch import nn

from .config import LoSparseConfig, budget_config, rank_from_ratio
from .layer import LoSparseLinear, check_float_linear
from .rank import auto_rank, collect_input_grams, low_rank_budget_ranks
from .state import MethodState, clear_state, find_state, get_state, set_state


def losparse_layers(model: nn.Module) -> dict[str, LoSparseLinear]:
    """``{name: layer}`` of every :class:`LoSparseLinear` in ``model``."""
    return {n: m for n, m in model.named_modules() if isinstance(m, LoSparseLinear)}


def losparse_config(model: nn.Module) -> LoSparseConfig:
    """The resolved :class:`LoSparseConfig` a LoSparse model carries (``ValueError`` if none)."""
    return get_state(model, "losparse").config


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
    parameters match the budget. A rank that would keep more parameters than the dense
    matrices at the end of pruning is refused with the numbers. The resolved config is kept in
    the model's :class:`~lowrank_sparse.state.MethodState` (``model.lowrank_sparse_state``).
    """
    require(isinstance(config, LoSparseConfig), "config", type(config).__name__, "LoSparseConfig")
    require(not losparse_layers(model), "model", "already has LoSparse layers", "a plain model")
    require(find_state(model) is None, "model", "already carries DSEE state", "a plain model")
    modules = find_linear_modules(model, config.target_modules, config.exclude_modules)
    shapes = {name: check_float_linear(name, m) for name, m in modules.items()}
    ranks = _resolve_ranks(model, modules, shapes, config, calibration)
    has_sparse = config.method != "low_rank_only"
    dense = sum(o * i for o, i in shapes.values())
    lowrank = sum(ranks[n] * (o + i) for n, (o, i) in shapes.items())
    resolved = config
    if config.budget is not None and has_sparse:
        final = (config.budget * dense - lowrank) / dense
        require(
            final >= 0,
            "budget",
            config.budget,
            f">= the low-rank part's share {lowrank / dense:.4f} (lower low_rank_ratio or rank)",
        )
        resolved = config.replace(final_sparse_ratio=min(final, config.initial_sparse_ratio))
    final_ratio = (lowrank + (resolved.final_sparse_ratio * dense if has_sparse else 0)) / dense
    if final_ratio > 1.0:
        field = "rank" if config.rank is not None else "low_rank_ratio"
        value = config.rank if config.rank is not None else config.low_rank_ratio
        raise ValueError(
            f"{field}={value!r} is invalid: L and R alone store {lowrank:,} numbers, "
            f"{lowrank / dense:.2f}x the {dense:,} of the dense matrices, so the model would end "
            f"at ratio {final_ratio:.2f} > 1 after pruning S to final_sparse_ratio="
            f"{resolved.final_sparse_ratio:g}; allowed: a rank below "
            "d_out*d_in/(d_out+d_in) per layer, e.g. budget_config(...) or low_rank_ratio <= 0.1"
        )
    for name, module in modules.items():
        layer = LoSparseLinear.from_linear(
            module, ranks[name], has_sparse, config.structured_direction, name=name
        )
        replace_module(model, name, layer)
    set_state(model, MethodState("losparse", resolved))
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


def compact(model: nn.Module, kernel: str = "fused") -> nn.Module:
    """Switch every LoSparse layer to the compact form (only kept units of S stored).

    ``kernel="fused"`` (default): one GEMM over [R; S_k] + index_add. ``kernel="scatter"``:
    the official compact forward (two GEMMs, S_k x scattered into a zero buffer), on the same
    storage, for comparison. Warns with the numbers when the result keeps more parameters
    than the dense matrices (S not pruned yet)."""
    layers = losparse_layers(model)
    require(bool(layers), "model", type(model).__name__, "a model with LoSparse layers")
    for layer in layers.values():
        layer.compact(kernel)
    kept = sum(m.matrix_params() for m in layers.values())
    dense = sum(m.d_out * m.d_in for m in layers.values())
    if kept > dense:
        warnings.warn(
            f"compact(): the LoSparse layers keep {kept:,} of {dense:,} dense parameters "
            f"({kept / dense:.0%}): S was never pruned, so the compact model is larger than the "
            "original. Prune first (LoSparsePruner during training, or pruner.finalize()).",
            UserWarning,
            stacklevel=2,
        )
    return model


def merge_losparse(model: nn.Module) -> nn.Module:
    """Replace every LoSparse layer by a plain ``nn.Linear``/``Conv1D`` with W = L R + S.

    The result is a plain transformers model (``save_pretrained`` works) with the same outputs.
    """
    layers = losparse_layers(model)
    require(bool(layers), "model", type(model).__name__, "a model with LoSparse layers")
    for name, layer in layers.items():
        replace_module(model, name, layer.to_dense())
    clear_state(model)
    return model


__all__ = [
    "apply_losparse",
    "apply_low_rank_only",
    "apply_prune_only",
    "compact",
    "losparse_config",
    "losparse_layers",
    "merge_losparse",
]
