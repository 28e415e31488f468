"""code-infill: fill the middle of Python programs with bidir-lm's L2R, FIM and MIM decoders
and judge every fill by running it in code-exec's sandbox.

Names are imported on first use, so ``code-infill --help`` does not pay for torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "METHODS": "options",
    "InfillOptions": "options",
    "InfillTask": "data",
    "Verdict": "judging",
    "decode_ablation": "ablation",
    "fill_program": "fill",
    "judge": "judging",
    "make_task": "data",
    "quick_options": "options",
    "run": "pipeline",
}

__all__ = [
    "METHODS",
    "InfillOptions",
    "InfillTask",
    "Verdict",
    "decode_ablation",
    "fill_program",
    "judge",
    "make_task",
    "quick_options",
    "run",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from .ablation import decode_ablation
    from .data import InfillTask, make_task
    from .fill import fill_program
    from .judging import Verdict, judge
    from .options import METHODS, InfillOptions, quick_options
    from .pipeline import run
