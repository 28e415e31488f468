"""compress-embedder: LoSparse + distillation on all-MiniLM-L6-v2, measured side by side."""

from .options import CompressOptions, quick_options
from .pipeline import load_compressed, run
from .quality import Quality, quality, spearman
from .quantize import (
    Int8Embedding,
    QuantizableLowRankSparse,
    quantize_all,
    quantize_int8,
    quantize_int8_weight_only,
)
from .report import ArmResult, pareto_front
from .sweep import sweep

__all__ = [
    "ArmResult",
    "CompressOptions",
    "Int8Embedding",
    "QuantizableLowRankSparse",
    "Quality",
    "load_compressed",
    "pareto_front",
    "quality",
    "quantize_all",
    "quantize_int8",
    "quantize_int8_weight_only",
    "quick_options",
    "run",
    "spearman",
    "sweep",
]
