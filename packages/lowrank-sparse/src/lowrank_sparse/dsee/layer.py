"""The DSEE layer: a frozen linear map plus a low-rank and a sparse trainable update.

``y = (M * (W + s * B @ A + s * S2)) x + b`` where ``W`` (d_out, d_in) is the frozen
pretrained weight, ``A`` (r, d_in) and ``B`` (d_out, r) the low-rank update, ``S2`` a
(d_out, d_in) matrix stored as ``N`` values at fixed flat positions, ``s = alpha / r`` and
``M`` an optional 0/1 mask set by unstructured pruning (stage 2). The mask applies to the
final weight, so merging gives exactly the pruned matrix (the official code masks only W and
leaves the update as an unmasked side path; see the README's DSEE section).

The update is formed in weight space each forward: ``d_out * d_in`` extra work per call,
independent of the number of tokens, and it makes the merged model compute the same function.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from lmlab_common import LINEAR_TYPES, linear_shape, linear_weight, require
from torch import nn
from transformers.pytorch_utils import Conv1D


class DSEELinear(nn.Module):
    """Wraps an ``nn.Linear`` or GPT-2 ``Conv1D`` (kept as ``base_layer``, frozen)."""

    def __init__(
        self,
        base_layer: nn.Module,
        r: int,
        lora_alpha: float,
        sparse_index: torch.Tensor,
        init_std: float = 0.02,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        require(
            isinstance(base_layer, LINEAR_TYPES),
            "base_layer",
            type(base_layer).__name__,
            "nn.Linear or transformers Conv1D",
        )
        weight = linear_weight(base_layer)
        require(weight.is_floating_point(), "weight.dtype", weight.dtype, "a floating dtype")
        d_out, d_in = weight.shape
        require(
            isinstance(r, int) and 1 <= r <= min(d_out, d_in),
            "r",
            r,
            f"an int in [1, {min(d_out, d_in)}] for a ({d_out}, {d_in}) layer",
        )
        sparse_index = torch.as_tensor(sparse_index, dtype=torch.long)
        require(
            sparse_index.dim() == 1
            and (sparse_index.numel() == 0 or int(sparse_index.min()) >= 0)
            and (sparse_index.numel() == 0 or int(sparse_index.max()) < d_out * d_in),
            "sparse_index",
            f"tensor of shape {tuple(sparse_index.shape)}",
            f"a 1-D tensor of flat positions in [0, {d_out * d_in})",
        )
        self.base_layer = base_layer
        for p in base_layer.parameters():
            p.requires_grad_(False)
        self.r = r
        self.lora_alpha = float(lora_alpha)
        dd = {"device": weight.device, "dtype": weight.dtype}
        a = torch.randn(r, d_in, generator=generator) * init_std
        self.lora_A = nn.Parameter(a.to(**dd))  # (r, d_in)
        self.lora_B = nn.Parameter(torch.zeros(d_out, r, **dd))  # (d_out, r)
        self.register_buffer("sparse_index", sparse_index.to(weight.device))  # (N,)
        self.sparse_values = nn.Parameter(torch.zeros(sparse_index.numel(), **dd))  # (N,)
        self.register_buffer("weight_mask", None)  # (d_out, d_in) bool, set by pruning

    @property
    def scale(self) -> float:
        return self.lora_alpha / self.r

    @property
    def shape(self) -> tuple[int, int]:
        """``(d_out, d_in)``."""
        return linear_shape(self.base_layer)

    @property
    def weight(self) -> torch.Tensor:
        """The frozen pretrained weight as (d_out, d_in)."""
        return linear_weight(self.base_layer)

    @property
    def bias(self) -> torch.Tensor | None:
        return self.base_layer.bias

    def sparse_dense(self) -> torch.Tensor:
        """``S2`` as a dense (d_out, d_in) tensor (zeros off the support)."""
        d_out, d_in = self.shape
        flat = torch.zeros(d_out * d_in, device=self.sparse_values.device, dtype=self.lora_B.dtype)
        flat = flat.index_put((self.sparse_index,), self.sparse_values.to(flat.dtype))
        return flat.view(d_out, d_in)

    def delta_weight(self) -> torch.Tensor:
        """The unmasked update ``s * (B @ A + S2)``, shape (d_out, d_in)."""
        return self.scale * (self.lora_B @ self.lora_A + self.sparse_dense())

    def effective_weight(self) -> torch.Tensor:
        """``M * (W + delta)``, shape (d_out, d_in): what the layer applies and what merging
        writes."""
        w = self.weight + self.delta_weight().to(self.weight.dtype)
        if self.weight_mask is not None:
            w = w * self.weight_mask.to(w.dtype)
        return w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (..., d_in) -> (..., d_out)
        return F.linear(x, self.effective_weight(), self.bias)

    def merged_layer(self) -> nn.Module:
        """A plain layer of the base layer's type holding the effective weight."""
        with torch.no_grad():
            w = self.effective_weight().detach().clone()
            d_out, d_in = w.shape
            bias = self.bias
            if isinstance(self.base_layer, Conv1D):
                new = Conv1D(d_out, d_in)
                new.weight.data = w.t().contiguous()
            else:
                new = nn.Linear(d_in, d_out, bias=bias is not None)
                new.weight.data = w
            if bias is not None:
                new.bias.data = bias.detach().clone()
            return new.to(device=w.device)

    def trainable_entries(self, include_bias: bool = False) -> int:
        """Entries the method trains here: ``r (d_in + d_out) + N`` (+ bias)."""
        d_out, d_in = self.shape
        n = self.r * (d_in + d_out) + self.sparse_values.numel()
        if include_bias and self.bias is not None:
            n += self.bias.numel()
        return n

    @torch.no_grad()
    def keep(self, index: torch.Tensor, dim: int) -> None:
        """Keep only output rows (``dim=0``) or input columns (``dim=1``) ``index`` of every
        part (W, bias, A or B, S2 support and values, mask), physically shrinking the layer."""
        require(dim in (0, 1), "dim", dim, "0 (output rows) or 1 (input columns)")
        d_out, d_in = self.shape
        index = index.to(self.sparse_index.device, torch.long)
        rows, cols = self.sparse_index // d_in, self.sparse_index % d_in
        old_pos = rows if dim == 0 else cols
        new_of_old = torch.full((d_out if dim == 0 else d_in,), -1, dtype=torch.long)
        new_of_old = new_of_old.to(index.device)
        new_of_old[index] = torch.arange(index.numel(), device=index.device)
        mapped = new_of_old[old_pos]
        kept = mapped >= 0
        if dim == 0:
            new_d_in = d_in
            new_index = mapped[kept] * new_d_in + cols[kept]
            self.lora_B = nn.Parameter(self.lora_B[index].clone())
        else:
            new_d_in = index.numel()
            new_index = rows[kept] * new_d_in + mapped[kept]
            self.lora_A = nn.Parameter(self.lora_A[:, index].clone())
        values = self.sparse_values[kept].clone()
        trains = self.sparse_values.requires_grad
        self.sparse_index = new_index
        self.sparse_values = nn.Parameter(values, requires_grad=trains)
        if self.weight_mask is not None:
            self.weight_mask = self.weight_mask.index_select(dim, index).clone()
        self.base_layer = slice_linear(self.base_layer, index, dim)


@torch.no_grad()
def slice_linear(layer: nn.Module, index: torch.Tensor, dim: int) -> nn.Module:
    """A new ``nn.Linear``/``Conv1D`` keeping output rows (dim 0) or input columns (dim 1)
    ``index`` of ``layer`` (in the (d_out, d_in) convention); ``requires_grad`` is kept."""
    if isinstance(layer, DSEELinear):
        layer.keep(index, dim)
        return layer
    w = linear_weight(layer).index_select(dim, index.to(linear_weight(layer).device)).clone()
    d_out, d_in = w.shape
    bias = layer.bias
    if bias is not None and dim == 0:
        bias = bias[index.to(bias.device)]
    if isinstance(layer, Conv1D):
        new = Conv1D(d_out, d_in)
        new.weight = nn.Parameter(w.t().contiguous(), layer.weight.requires_grad)
    elif isinstance(layer, nn.Linear):
        new = nn.Linear(d_in, d_out, bias=bias is not None)
        new.weight = nn.Parameter(w, layer.weight.requires_grad)
    else:
        raise ValueError(
            f"layer={type(layer).__name__} is invalid; allowed: nn.Linear, Conv1D or DSEELinear"
        )
    if bias is not None:
        new.bias = nn.Parameter(bias.detach().clone(), layer.bias.requires_grad)
    return new.to(device=w.device)
