"""bidir-lm: Meet in the Middle (MIM) — a forward and a backward LM trained to agree, and
meet-in-the-middle infilling — with left-to-right and fill-in-the-middle (FIM) baselines.

Names are imported on first use, so the CLI's ``--help`` does not pay for torch/transformers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lmlab_common import lazy_exports

__version__: str = "0.1.0"

_EXPORTS: dict[str, str] = {
    "DIRECTION_TOKENS": "options",
    "FIM_TOKENS": "options",
    "BidirConfig": "config",
    "BidirectionalLM": "model",
    "InfillResult": "infilling",
    "MIMConfig": "config",
    "MIMTrainer": "trainer",
    "PadCollator": "trainer",
    "Program": "synthetic",
    "ToyPrograms": "synthetic",
    "apply_fim": "fim",
    "check_program": "synthetic",
    "divergence": "losses",
    "fim_prompt": "fim",
    "fim_transform": "fim",
    "infill": "infilling",
    "infill_ids": "infilling",
    "mim_terms": "losses",
    "prepare_tokenizer": "model",
    "reverse_valid": "losses",
    "toy_tokenizer": "synthetic",
}

__all__: list[str] = [
    "DIRECTION_TOKENS",
    "FIM_TOKENS",
    "BidirConfig",
    "BidirectionalLM",
    "InfillResult",
    "MIMConfig",
    "MIMTrainer",
    "PadCollator",
    "Program",
    "ToyPrograms",
    "apply_fim",
    "check_program",
    "divergence",
    "fim_prompt",
    "fim_transform",
    "infill",
    "infill_ids",
    "mim_terms",
    "prepare_tokenizer",
    "reverse_valid",
    "toy_tokenizer",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


if TYPE_CHECKING:
    from .config import BidirConfig, MIMConfig
    from .fim import apply_fim, fim_prompt, fim_transform
    from .infilling import InfillResult, infill, infill_ids
    from .losses import divergence, mim_terms, reverse_valid
    from .model import BidirectionalLM, prepare_tokenizer
    from .options import DIRECTION_TOKENS, FIM_TOKENS
    from .synthetic import Program, ToyPrograms, check_program, toy_tokenizer
    from .trainer import MIMTrainer, PadCollator
