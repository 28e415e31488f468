"""``LoSparseLinear``: y = L (R x) + S x + b, with S pruned by rows (or columns).

Two storage forms:

* training form: ``left`` (d_out, r), ``right`` (r, d_in), dense ``sparse`` (d_out, d_in) and a
  boolean ``keep_mask`` over the units of S (rows by default) set by the pruner;
* compact form (after :meth:`LoSparseLinear.compact`): only the k kept units of S are stored.
  For rows, R and S_k are one matrix ``fused`` ((r + k), d_in): one GEMM reads x once, then
  ``y = L h[:r] + b`` and ``h[r:]`` is index-added into the k kept output features
  (``kernel="fused"``, the default). ``kernel="scatter"`` runs the official compact forward on
  the same storage: ``x R^T L^T`` and ``x S_k^T`` as two GEMMs, the latter scattered into a
  zero (n, d_out) buffer. No buffer is cached, so any batch and sequence shape works.

rank 0 gives prune-only (S = W); no S gives low-rank only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from lmlab_common import linear_weight, require
from torch import nn
from transformers.pytorch_utils import Conv1D

KERNELS = ("fused", "scatter")


def svd_split(weight: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``rank`` SVD of ``weight`` (d_out, d_in) split as sqrt(Sigma).

    Returns L (d_out, r) and R (r, d_in) with L R the best rank-r approximation."""
    u, s, vh = torch.linalg.svd(weight.detach().float(), full_matrices=False)
    root = s[:rank].sqrt()
    left = u[:, :rank] * root  # (d_out, r)
    right = root[:, None] * vh[:rank]  # (r, d_in)
    return left.to(weight.dtype), right.to(weight.dtype)


def check_float_linear(name: str, module: nn.Module) -> tuple[int, int]:
    """(d_out, d_in) of a float ``nn.Linear``/``Conv1D``; ``ValueError`` otherwise."""
    weight = linear_weight(module)
    require(
        weight.is_floating_point(),
        f"{name}.weight.dtype",
        weight.dtype,
        "a floating-point dtype (float32, float16, bfloat16, float64)",
    )
    d_out, d_in = weight.shape
    return int(d_out), int(d_in)


class LoSparseLinear(nn.Module):
    """Low-rank plus structured-sparse replacement of a linear layer.

    Args:
        d_in, d_out: layer shape. rank: r (0 = no low-rank part).
        has_sparse: whether S exists. bias: whether the layer has a bias (Llama has none).
        direction: ``"row"`` (output features of S) or ``"col"`` (input features).
        kept: ``None`` for the training form, else the number k of kept units (compact form).
        base_type: ``"linear"`` or ``"conv1d"`` (GPT-2), used by :meth:`to_dense`.
    """

    def __init__(
        self,
        d_in: int,
        d_out: int,
        rank: int,
        has_sparse: bool = True,
        bias: bool = True,
        direction: str = "row",
        kept: int | None = None,
        base_type: str = "linear",
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        require(0 <= rank < min(d_out, d_in), "rank", rank, f"an int in [0, {min(d_out, d_in)})")
        require(rank > 0 or has_sparse, "rank", rank, "> 0 when there is no sparse part")
        require(direction in ("row", "col"), "direction", direction, "'row' or 'col'")
        self.d_in, self.d_out, self.rank = d_in, d_out, rank
        self.has_sparse, self.direction, self.base_type = has_sparse, direction, base_type
        self.num_units = (d_out if direction == "row" else d_in) if has_sparse else 0
        self.unit_size = (d_in if direction == "row" else d_out) if has_sparse else 0
        self.compacted = kept is not None
        self.kernel = "fused"
        kw = {"dtype": dtype, "device": device}
        self.left = nn.Parameter(torch.zeros(d_out, rank, **kw)) if rank else None
        self.right = None
        self.sparse = None
        self.fused = None
        if not self.compacted:
            self.right = nn.Parameter(torch.zeros(rank, d_in, **kw)) if rank else None
            if has_sparse:
                self.sparse = nn.Parameter(torch.zeros(d_out, d_in, **kw))
                self.register_buffer(
                    "keep_mask", torch.ones(self.num_units, dtype=torch.bool, device=device)
                )
        else:
            k = kept if has_sparse else 0
            require(0 <= k <= self.num_units, "kept", kept, f"an int in [0, {self.num_units}]")
            self.register_buffer("kept_index", torch.zeros(k, dtype=torch.long, device=device))
            if direction == "row":
                self.fused = nn.Parameter(torch.zeros(rank + k, d_in, **kw))
            else:
                self.right = nn.Parameter(torch.zeros(rank, d_in, **kw)) if rank else None
                self.sparse = nn.Parameter(torch.zeros(d_out, k, **kw))
        self.bias = nn.Parameter(torch.zeros(d_out, **kw)) if bias else None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_linear(
        cls,
        module: nn.Module,
        rank: int,
        has_sparse: bool = True,
        direction: str = "row",
        name: str = "module",
    ) -> LoSparseLinear:
        """Replace ``module`` (``nn.Linear``/``Conv1D``): L, R = top-r SVD split as sqrt(Sigma),
        S = W - L R. The output equals the original up to float error."""
        d_out, d_in = check_float_linear(name, module)
        require(
            isinstance(rank, int) and 0 <= rank < min(d_out, d_in),
            f"rank ({name}, shape {d_out}x{d_in})",
            rank,
            f"an int in [0, {min(d_out, d_in)}) (rank must be < min(d_out, d_in))",
        )
        weight = linear_weight(module).detach()
        layer = cls(
            d_in,
            d_out,
            rank,
            has_sparse=has_sparse,
            bias=module.bias is not None,
            direction=direction,
            base_type="conv1d" if isinstance(module, Conv1D) else "linear",
            dtype=weight.dtype,
            device=weight.device,
        )
        with torch.no_grad():
            lowrank = torch.zeros_like(weight)
            if rank:
                left, right = svd_split(weight, rank)
                layer.left.copy_(left)
                layer.right.copy_(right)
                lowrank = left @ right
            if has_sparse:
                layer.sparse.copy_(weight - lowrank)
            if module.bias is not None:
                layer.bias.copy_(module.bias.detach())
        return layer

    # ------------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (..., d_in) -> (..., d_out)."""
        if self.compacted:
            return self._forward_compact(x)
        y = F.linear(F.linear(x, self.right), self.left, self.bias) if self.rank else None
        if self.sparse is not None:
            sx = F.linear(x, self.sparse)
            if y is None:
                y = sx if self.bias is None else sx + self.bias
            else:
                y = y + sx
        return y

    def _forward_compact(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        x2 = x.reshape(-1, self.d_in)  # (n, d_in)
        r, idx = self.rank, self.kept_index
        if self.direction == "row" and self.kernel == "scatter":
            # official form: two GEMMs, S_k x scattered into a fresh zero buffer
            y = x2.new_zeros(x2.shape[0], self.d_out)
            if idx.numel():
                y[:, idx] = F.linear(x2, self.fused[r:])
            if r:
                y = y + F.linear(F.linear(x2, self.fused[:r]), self.left)
            if self.bias is not None:
                y = y + self.bias
        elif self.direction == "row":
            h = F.linear(x2, self.fused)  # (n, r + k): x read once for R and S_k
            if r:
                y = F.linear(h[:, :r], self.left, self.bias)  # (n, d_out)
            else:
                y = x2.new_zeros(x2.shape[0], self.d_out)
                if self.bias is not None:
                    y = y + self.bias
            if idx.numel():
                # in place: neither addmm nor the zeros need their output for backward
                y.index_add_(1, idx, h[:, r:])
        else:
            y = F.linear(F.linear(x2, self.right), self.left, self.bias) if r else None
            if idx.numel():
                sx = F.linear(x2.index_select(1, idx), self.sparse)  # (n, d_out)
                y = sx if y is None else y + sx
                if r == 0 and self.bias is not None:
                    y = y + self.bias
            elif y is None:
                y = x2.new_zeros(x2.shape[0], self.d_out)
                if self.bias is not None:
                    y = y + self.bias
        return y.reshape(*lead, self.d_out)

    # ------------------------------------------------------------------ pruning / compaction
    def set_keep_mask(self, mask: torch.Tensor) -> None:
        """Keep only the units (rows or columns of S) where ``mask`` is True; zero the others."""
        require(not self.compacted, "layer", "compacted", "a layer in training form")
        require(self.sparse is not None, "layer", "no sparse part", "a layer with S")
        with torch.no_grad():
            self.keep_mask.copy_(mask.to(self.keep_mask.device))
            drop = ~self.keep_mask.to(self.sparse.device)
            if self.direction == "row":
                self.sparse[drop] = 0
            else:
                self.sparse[:, drop] = 0

    def num_kept(self) -> int:
        if not self.has_sparse:
            return 0
        return int(self.kept_index.numel()) if self.compacted else int(self.keep_mask.sum())

    def compact(self, kernel: str = "fused") -> None:
        """Switch in place to the compact form, keeping the units where ``keep_mask`` is True.

        ``kernel``: ``"fused"`` (one GEMM over [R; S_k] + index_add, default) or ``"scatter"``
        (the official two-GEMM form with a scattered zero buffer; rows only). Calling it on a
        compact layer only switches the kernel."""
        require(kernel in KERNELS, "kernel", kernel, f"one of {KERNELS}")
        require(
            kernel == "fused" or self.direction == "row",
            "kernel",
            kernel,
            "'fused' for direction='col' (the scatter form is for rows of S)",
        )
        self.kernel = kernel
        if self.compacted:
            return
        with torch.no_grad():
            if self.has_sparse:
                idx = self.keep_mask.nonzero().flatten().to(self.sparse.device)
            else:
                idx = torch.zeros(0, dtype=torch.long, device=self.left.device)
            ref = self.left if self.left is not None else self.sparse
            if self.direction == "row":
                parts = [self.right.detach()] if self.rank else []
                if idx.numel():
                    parts.append(self.sparse.detach()[idx])
                fused = (
                    torch.cat(parts)
                    if parts
                    else torch.zeros(0, self.d_in, dtype=ref.dtype, device=ref.device)
                )
                self.fused = nn.Parameter(fused.contiguous())
                self.right = None
                self.sparse = None
            else:
                self.sparse = nn.Parameter(self.sparse.detach()[:, idx].contiguous())
        if hasattr(self, "keep_mask"):
            del self.keep_mask
        self.register_buffer("kept_index", idx)
        self.compacted = True

    def dense_weight(self) -> torch.Tensor:
        """The equivalent dense weight (d_out, d_in) = L R + S (masked units are zero)."""
        with torch.no_grad():
            ref = next(p for p in (self.left, self.sparse, self.fused) if p is not None)
            weight = torch.zeros(self.d_out, self.d_in, dtype=ref.dtype, device=ref.device)
            r = self.rank
            if self.compacted:
                idx = self.kept_index
                if self.direction == "row":
                    if r:
                        weight += self.left @ self.fused[:r]
                    weight.index_add_(0, idx, self.fused[r:])
                else:
                    if r:
                        weight += self.left @ self.right
                    weight.index_add_(1, idx, self.sparse)
            else:
                if r:
                    weight += self.left @ self.right
                if self.sparse is not None:
                    weight += self.sparse
            return weight

    @property
    def weight(self) -> torch.Tensor:
        """Read-only equivalent dense weight (computed on access; some models, e.g. T5, read
        ``.weight.dtype`` of their projections)."""
        return self.dense_weight()

    def to_dense(self) -> nn.Module:
        """A plain ``nn.Linear`` (or ``Conv1D``) with the same function."""
        weight = self.dense_weight()
        if self.base_type == "conv1d":
            out = Conv1D(self.d_out, self.d_in)
            out.weight = nn.Parameter(weight.t().contiguous())
            if self.bias is None:
                out.bias = None
        else:
            out = nn.Linear(self.d_in, self.d_out, bias=self.bias is not None)
            out.weight = nn.Parameter(weight)
        out.to(device=weight.device, dtype=weight.dtype)
        if self.bias is not None:
            with torch.no_grad():
                out.bias.copy_(self.bias)
        return out

    def matrix_params(self) -> int:
        """Parameters of the compressed matrix (bias excluded): r (d_in + d_out) + k * unit.

        Equal to the multiply-accumulates per token of the compact forward."""
        return self.rank * (self.d_in + self.d_out) + self.num_kept() * self.unit_size

    def extra_repr(self) -> str:
        return (
            f"d_in={self.d_in}, d_out={self.d_out}, rank={self.rank}, sparse={self.has_sparse}, "
            f"direction={self.direction}, kept={self.num_kept()}, compacted={self.compacted}"
            + (f", kernel={self.kernel}" if self.compacted else "")
        )
