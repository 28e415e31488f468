"""Parameters and multiply-accumulates of a LoSparse model, dense vs compressed."""

from __future__ import annotations

import dataclasses
from typing import Any

from lmlab_common import require
from torch import nn

from .layer import LoSparseLinear


@dataclasses.dataclass
class LayerReport:
    """One replaced matrix. Params and MACs per token exclude the bias (unchanged by LoSparse)."""

    name: str
    d_out: int
    d_in: int
    rank: int
    kept_units: int
    num_units: int
    dense_params: int
    params: int

    @property
    def dense_macs(self) -> int:
        return self.dense_params

    @property
    def macs(self) -> int:
        return self.params

    @property
    def ratio(self) -> float:
        return self.params / self.dense_params


@dataclasses.dataclass
class CompressionReport:
    """Per-layer and total parameters / MACs per token of the replaced matrices, and the whole
    model's parameter count with the replaced matrices counted compressed."""

    layers: list[LayerReport]
    other_params: int

    @property
    def dense_params(self) -> int:
        return sum(x.dense_params for x in self.layers)

    @property
    def params(self) -> int:
        return sum(x.params for x in self.layers)

    @property
    def dense_macs(self) -> int:
        return self.dense_params

    @property
    def macs(self) -> int:
        return self.params

    @property
    def ratio(self) -> float:
        """Fraction of the replaced matrices' parameters kept (the paper's "Ratio")."""
        return self.params / self.dense_params

    @property
    def model_params(self) -> int:
        return self.other_params + self.params

    @property
    def dense_model_params(self) -> int:
        return self.other_params + self.dense_params

    def to_dict(self) -> dict[str, Any]:
        return {
            "layers": [
                dataclasses.asdict(x)
                | {"ratio": x.ratio, "macs": x.macs, "dense_macs": x.dense_macs}
                for x in self.layers
            ],
            "dense_params": self.dense_params,
            "params": self.params,
            "dense_macs_per_token": self.dense_macs,
            "macs_per_token": self.macs,
            "ratio": self.ratio,
            "other_params": self.other_params,
            "model_params": self.model_params,
            "dense_model_params": self.dense_model_params,
        }

    def to_markdown(self) -> str:
        rows = [
            "| layer | shape | rank | kept units | params (dense) | params | ratio |",
            "|---|---|---|---|---|---|---|",
        ]
        for x in self.layers:
            rows.append(
                f"| {x.name} | {x.d_out}x{x.d_in} | {x.rank} | {x.kept_units}/{x.num_units} | "
                f"{x.dense_params:,} | {x.params:,} | {x.ratio:.3f} |"
            )
        rows.append(
            f"| **total** | | | | {self.dense_params:,} | {self.params:,} | {self.ratio:.3f} |"
        )
        rows.append("")
        rows.append(
            f"Whole model: {self.dense_model_params:,} -> {self.model_params:,} parameters; "
            f"MACs per token in the replaced layers: {self.dense_macs:,} -> {self.macs:,}."
        )
        return "\n".join(rows)


def compression_report(model: nn.Module) -> CompressionReport:
    """Report of every :class:`LoSparseLinear` in ``model`` (training or compact form)."""
    layers = {n: m for n, m in model.named_modules() if isinstance(m, LoSparseLinear)}
    require(bool(layers), "model", type(model).__name__, "a model with LoSparse layers")
    out = []
    for name, m in layers.items():
        out.append(
            LayerReport(
                name=name,
                d_out=m.d_out,
                d_in=m.d_in,
                rank=m.rank,
                kept_units=m.num_kept(),
                num_units=m.num_units,
                dense_params=m.d_out * m.d_in,
                params=m.matrix_params(),
            )
        )
    prefixes = tuple(n + "." for n in layers)
    matrix_keys = {"left", "right", "sparse", "fused"}
    other = 0
    seen = set()
    for key, p in model.named_parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        if key.startswith(prefixes) and key.rsplit(".", 1)[-1] in matrix_keys:
            continue
        other += p.numel()
    return CompressionReport(layers=out, other_params=other)
