"""int8 weights: the one-liner users reach for first, and the strongest int8 alternatives.

* :func:`quantize_int8` — ``torch.ao.quantization.quantize_dynamic`` with its defaults (one line,
  no data): every ``nn.Linear`` becomes int8 with one scale per tensor, activations quantized
  on the fly, float32 outputs. Only ``nn.Linear`` modules are converted (custom layers such as
  the compact LoSparse ones pass through), CPU only, and the word-embedding table (11.7 M of
  all-MiniLM-L6-v2's 22.7 M numbers) stays float32.
* :func:`quantize_int8_weight_only` — torchao's current API, ``quantize_(model,
  Int8WeightOnlyConfig())`` (one line, no data): int8 weights with one scale per output row,
  float activations. Near-lossless and as small on disk as the above, but measured no faster
  than float on a 2-core CPU (``quantize_dynamic`` is ~2x faster there).
* :func:`quantize_all` — int8 everything: linears with one scale per output row (``scheme``
  ``"dynamic"``: per-channel ``quantize_dynamic``, int8 activations too, the fastest on CPU;
  ``"weight_only"``: torchao int8 weight-only, the most faithful), every ``nn.Embedding`` as
  :class:`Int8Embedding` (int8 rows, one float scale per row), and the compact LoSparse layers
  rewritten as :class:`QuantizableLowRankSparse` (two plain ``nn.Linear``: the fused
  ``[R; S_k]`` and ``L``) so that the same quantizer turns their low-rank factors and kept rows
  of S into int8 too.
"""

from __future__ import annotations

import copy
import logging
import warnings

import torch
import torch.nn.functional as F
from lmlab_common import replace_module, require
from lowrank_sparse import LoSparseLinear
from torch import nn


def _dynamic(model: nn.Module, per_channel: bool) -> nn.Module:
    spec = (
        {nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig}
        if per_channel
        else {nn.Linear}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # eager-mode quantization "moving to torchao" notice
        return torch.ao.quantization.quantize_dynamic(model, spec, dtype=torch.qint8)


def _weight_only(model: nn.Module) -> nn.Module:
    pytree_log = logging.getLogger("torch.utils._pytree")
    level = pytree_log.level
    pytree_log.setLevel(logging.ERROR)  # torchao's import warns about torch internals
    try:
        from torchao.quantization import Int8WeightOnlyConfig, quantize_  # slow: on use
    finally:
        pytree_log.setLevel(level)

    # set_inductor_config=False: leave torch.compile's global settings alone
    quantize_(model, Int8WeightOnlyConfig(set_inductor_config=False))
    return model


SCHEMES = {"dynamic": lambda m: _dynamic(m, per_channel=True), "weight_only": _weight_only}


def quantize_int8(model: nn.Module) -> nn.Module:
    """The one-liner: an int8 dynamically quantized copy of ``model`` (its ``nn.Linear``
    layers, one scale per tensor), in eval mode. The input model is not changed."""
    return _dynamic(copy.deepcopy(model).eval(), per_channel=False).eval()


def quantize_int8_weight_only(model: nn.Module) -> nn.Module:
    """torchao's one-liner: a copy of ``model`` whose ``nn.Linear`` weights are int8 (one scale
    per output row, activations stay float), in eval mode. The input model is not changed."""
    return _weight_only(copy.deepcopy(model).eval()).eval()


class Int8Embedding(nn.Module):
    """An embedding table stored as int8 with one float32 scale per row (symmetric).

    ``weight[i] ≈ scale[i] * q[i]`` with ``q`` in [-127, 127]; the lookup gathers int8 rows and
    rescales only those, so the table is never materialised in float."""

    def __init__(self, num_embeddings: int, dim: int, padding_idx: int | None = None) -> None:
        super().__init__()
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, dim, padding_idx
        self.register_buffer("qweight", torch.zeros(num_embeddings, dim, dtype=torch.int8))
        self.register_buffer("scale", torch.ones(num_embeddings, dtype=torch.float32))

    @classmethod
    def from_embedding(cls, module: nn.Embedding) -> Int8Embedding:
        weight = module.weight.detach().float()
        out = cls(weight.shape[0], weight.shape[1], module.padding_idx)
        scale = weight.abs().amax(dim=1).clamp_min(1e-12) / 127.0
        out.qweight.copy_(torch.round(weight / scale[:, None]).clamp(-127, 127).to(torch.int8))
        out.scale.copy_(scale)
        return out

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        rows = F.embedding(ids, self.qweight).float()
        return rows * F.embedding(ids, self.scale[:, None])

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}, dtype=int8, per-row scale"


class QuantizableLowRankSparse(nn.Module):
    """A compact row-direction LoSparse layer held as plain ``nn.Linear`` modules.

    ``fused`` (d_in → r + k) is the layer's ``[R; S_k]`` and ``left`` (r → d_out, with the bias)
    is L; the forward is the compact one: ``h = fused(x)``, ``y = left(h[:, :r])`` and
    ``h[:, r:]`` index-added into the kept output features. As plain linears, both are
    converted to int8 by ``quantize_dynamic``; the float form computes exactly what the
    LoSparse layer computes."""

    def __init__(self, layer: LoSparseLinear) -> None:
        super().__init__()
        if not (layer.compacted and layer.direction == "row"):
            raise ValueError(
                f"layer={layer.extra_repr()!r} is invalid; allowed: a compacted LoSparse layer "
                "with direction='row' (call lowrank_sparse.compact(model) first)"
            )
        self.d_in, self.d_out, self.rank = layer.d_in, layer.d_out, layer.rank
        fused = layer.fused.detach()
        self.register_buffer("kept_index", layer.kept_index.detach().clone())
        self.fused = None
        if fused.shape[0]:
            self.fused = nn.Linear(self.d_in, fused.shape[0], bias=False)
            self.fused.weight = nn.Parameter(fused.clone())
        bias = layer.bias.detach().clone() if layer.bias is not None else None
        self.left = None
        self.bias = None
        if self.rank:
            self.left = nn.Linear(self.rank, self.d_out, bias=bias is not None)
            self.left.weight = nn.Parameter(layer.left.detach().clone())
            if bias is not None:
                self.left.bias = nn.Parameter(bias)
        elif bias is not None:
            self.bias = nn.Parameter(bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        x2 = x.reshape(-1, self.d_in)
        r = self.rank
        if self.fused is None:
            y = x2.new_zeros(x2.shape[0], self.d_out)
            if self.bias is not None:
                y = y + self.bias
            return y.reshape(*lead, self.d_out)
        h = self.fused(x2)
        if r:
            y = self.left(h[:, :r].contiguous())
        else:
            y = x2.new_zeros(x2.shape[0], self.d_out)
            if self.bias is not None:
                y = y + self.bias
        if self.kept_index.numel():
            y.index_add_(1, self.kept_index, h[:, r:])
        return y.reshape(*lead, self.d_out)


def linearize_losparse(model: nn.Module) -> nn.Module:
    """Replace (in place) every compact LoSparse layer of ``model`` by its
    :class:`QuantizableLowRankSparse` form (same outputs, plain ``nn.Linear`` inside)."""
    layers = {n: m for n, m in model.named_modules() if isinstance(m, LoSparseLinear)}
    for name, layer in layers.items():
        replace_module(model, name, QuantizableLowRankSparse(layer))
    return model


def quantize_embeddings(model: nn.Module) -> nn.Module:
    """Replace (in place) every ``nn.Embedding`` of ``model`` by an :class:`Int8Embedding`."""
    tables = {n: m for n, m in model.named_modules() if isinstance(m, nn.Embedding)}
    for name, table in tables.items():
        replace_module(model, name, Int8Embedding.from_embedding(table))
    return model


def quantize_all(model: nn.Module, embeddings: bool = True, scheme: str = "dynamic") -> nn.Module:
    """int8 everything (a copy; ``model`` is not changed): compact LoSparse layers linearised,
    all linears int8 with one scale per output row (``scheme``: ``"dynamic"`` or
    ``"weight_only"``, see the module docstring), and (``embeddings=True``) the embedding
    tables int8 per row.

    Works on the original model (then it is "int8 linears + int8 embeddings") and on a
    compacted LoSparse / low-rank / prune-only student (its factors and kept rows become int8)."""
    require(scheme in SCHEMES, "scheme", scheme, "one of " + ", ".join(SCHEMES))
    out = copy.deepcopy(model).eval()
    linearize_losparse(out)
    if embeddings:
        quantize_embeddings(out)
    return SCHEMES[scheme](out).eval()


def int8_linears(model: nn.Module) -> dict[str, nn.Module]:
    """``{name: module}`` of the dynamically quantized linear layers of ``model``."""
    qlinear = torch.ao.nn.quantized.dynamic.Linear
    return {n: m for n, m in model.named_modules() if isinstance(m, qlinear)}


def weight_only_linears(model: nn.Module) -> dict[str, nn.Linear]:
    """``{name: module}`` of the ``nn.Linear`` layers whose weight is a torchao int8 tensor."""
    return {
        n: m
        for n, m in model.named_modules()
        if isinstance(m, nn.Linear) and getattr(m.weight, "qdata", None) is not None
    }


def int8_weight_count(model: nn.Module) -> int:
    """Numbers held in the quantized layers' packed weights and biases (not ``parameters()``)."""
    total = 0
    for module in int8_linears(model).values():
        total += module.weight().numel()
        bias = module.bias()
        total += bias.numel() if bias is not None else 0
    return total
