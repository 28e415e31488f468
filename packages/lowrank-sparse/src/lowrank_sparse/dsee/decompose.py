"""Choosing the support of DSEE's sparse update from a pretrained weight.

The official code runs a GreBsmo-style greedy low-rank + sparse decomposition
``W ~ U V + S`` of the pretrained matrix and keeps the positions of the N largest entries of
``|S|``: the places the low-rank part explains worst. Only positions are used; the sparse
update's values start at zero and are learned.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from lmlab_common import require, require_choice

from .config import SPARSE_METHODS


@dataclass
class LowRankSparse:
    """Result of :func:`greedy_lowrank_sparse`: ``W ~ U @ V + S``.

    ``U``: (d_out, k) with orthonormal columns, ``V``: (k, d_in), ``S``: (d_out, d_in) sparse
    part (entries below the threshold are exactly zero).
    """

    U: torch.Tensor
    V: torch.Tensor
    S: torch.Tensor

    @property
    def rank(self) -> int:
        return int(self.U.shape[1])


@torch.no_grad()
def greedy_lowrank_sparse(
    weight: torch.Tensor,
    iters: int = 100,
    rank_step: int = 5,
    inner_iters: int = 2,
    threshold: float = 0.01,
    max_rank: int | None = None,
    generator: torch.Generator | None = None,
) -> LowRankSparse:
    """GreBsmo-style greedy bilateral decomposition of ``weight`` (d_out, d_in).

    Start from rank 1 with random factors. Each outer step alternates ``inner_iters`` times:
    ``U = qr((W - S) V^T).Q``, ``V = U^T (W - S)``, ``S = hard_threshold(W - U V)``; then the
    rank grows by ``rank_step`` rows taken from the R factor of the QR of the residual
    ``W - U V - S`` (as in the official code), up to ``max_rank`` (default
    ``min(d_out, d_in) - 1``; at full rank nothing would be left for S); the remaining of the
    ``iters`` steps refine at that rank.
    """
    require(weight.dim() == 2, "weight", tuple(weight.shape), "a 2-D (d_out, d_in) matrix")
    require(weight.is_floating_point(), "weight.dtype", weight.dtype, "a floating dtype")
    W = weight.detach().to(torch.float32)
    d_out, d_in = W.shape
    full = min(d_out, d_in)
    max_rank = full - 1 if max_rank is None else int(max_rank)
    require(1 <= max_rank < full, "max_rank", max_rank, f"an int in [1, {full - 1}]")
    V = torch.randn(1, d_in, generator=generator).to(W.device)
    S = torch.zeros_like(W)
    U = torch.zeros(d_out, 1, device=W.device)
    for step in range(iters):
        S = torch.zeros_like(W)
        for _ in range(inner_iters):
            U = torch.linalg.qr((W - S) @ V.T).Q  # (d_out, k)
            V = U.T @ (W - S)  # (k, d_in)
            S = W - U @ V
            S = torch.where(S.abs() < threshold, torch.zeros_like(S), S)
        k = V.shape[0]
        if step == iters - 1:
            break
        if k >= max_rank:  # at the cap: keep refining U, V, S at this rank
            continue
        residual = W - U @ V - S
        grow = min(rank_step, max_rank - k)
        # The first `grow` rows of R in qr(residual) only need the QR of its first `grow`
        # columns: R[:grow] = Q[:, :grow]^T residual (Householder QR is column-sequential).
        q = torch.linalg.qr(residual[:, :grow]).Q  # (d_out, grow)
        V = torch.cat([V, q.T @ residual], dim=0)
    return LowRankSparse(U=U, V=V, S=S)


@torch.no_grad()
def select_support(
    weight: torch.Tensor,
    num_sparse: int,
    method: str = "grebsmo",
    *,
    generator: torch.Generator | None = None,
    grebsmo_iters: int = 100,
    grebsmo_rank_step: int = 5,
    grebsmo_inner_iters: int = 2,
    grebsmo_threshold: float = 0.01,
    grebsmo_max_rank_ratio: float = 0.65,
) -> torch.Tensor:
    """Flat indices (sorted, int64, length ``num_sparse``) into ``weight`` (d_out, d_in).

    ``method``: "grebsmo" (top-N of |S| from :func:`greedy_lowrank_sparse`), "magnitude"
    (top-N of |W|) or "random".
    """
    require_choice("method", method, SPARSE_METHODS)
    require(weight.dim() == 2, "weight", tuple(weight.shape), "a 2-D (d_out, d_in) matrix")
    numel = weight.numel()
    require(
        isinstance(num_sparse, int) and 0 <= num_sparse <= numel,
        "num_sparse",
        num_sparse,
        f"an int in [0, {numel}] for a {tuple(weight.shape)} matrix",
    )
    if num_sparse == 0:
        return torch.zeros(0, dtype=torch.long, device=weight.device)
    W = weight.detach().float()
    if method == "magnitude":
        score = W.abs()
    elif method == "random":
        score = torch.rand(W.shape, generator=generator).to(W.device)
    else:
        full = min(W.shape)
        cap = max(1, min(full - 1, int(round(grebsmo_max_rank_ratio * full))))
        parts = greedy_lowrank_sparse(
            W,
            iters=grebsmo_iters,
            rank_step=grebsmo_rank_step,
            inner_iters=grebsmo_inner_iters,
            threshold=grebsmo_threshold,
            max_rank=cap,
            generator=generator,
        )
        # Ties (e.g. many exact zeros when S is sparser than N) break towards the larger
        # residual so every chosen position is still informative.
        score = parts.S.abs() + 1e-6 * (W - parts.U @ parts.V).abs()
    top = torch.topk(score.flatten(), num_sparse, sorted=False).indices
    return torch.sort(top).values
