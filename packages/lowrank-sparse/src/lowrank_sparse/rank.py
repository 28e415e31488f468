"""LoSparse rank choice: equal-budget truncated-SVD ranks and the data-driven "auto" rank."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from lmlab_common import linear_weight, require
from torch import nn

from .layer import check_float_linear


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


__all__ = ["auto_rank", "collect_input_grams", "low_rank_budget_ranks"]
