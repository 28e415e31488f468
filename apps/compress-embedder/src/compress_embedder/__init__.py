"""compress-embedder: LoSparse + distillation on all-MiniLM-L6-v2, measured side by side."""

from .options import CompressOptions, quick_options
from .pipeline import load_compressed, run
from .quality import Quality, quality, spearman
from .report import ArmResult

__all__ = [
    "ArmResult",
    "CompressOptions",
    "Quality",
    "load_compressed",
    "quality",
    "quick_options",
    "run",
    "spearman",
]
