"""``RTDConfig``: ``TrainingArguments`` plus the replaced-token-detection fields (TRL style)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from lmlab_common import require, require_choice, require_range
from transformers import TrainingArguments

SHARING_MODES = ("nes", "es", "gdes")
MASKING_STYLES = ("deberta", "electra")


@dataclass
class RTDConfig(TrainingArguments):
    """Training arguments for RTD pre-training of a generator + discriminator pair.

    Defaults marked *official* come from ``microsoft/DeBERTa`` (``rtd_task.py``, ``rtd_*.json``);
    *paper* marks the DeBERTaV3 / ELECTRA papers where the two differ.
    """

    embedding_sharing: str = field(
        default="gdes",
        metadata={
            "help": "nes: separate embeddings; es: one shared embedding trained by one joint "
            "loss; gdes (official default in every released config): E_D = sg(E_G) + E_delta."
        },
    )
    rtd_lambda: float = field(
        default=50.0,
        metadata={
            "help": "λ in L = L_MLM + λ·L_RTD. Paper and ELECTRA: 50 (default here); the official "
            "DeBERTa code's --rtd_lambda default is 10."
        },
    )
    mask_prob: float = field(
        default=0.15, metadata={"help": "Fraction of (non-special) tokens masked (official 0.15)."}
    )
    masking_style: str = field(
        default="deberta",
        metadata={
            "help": "deberta: every selected position becomes [MASK] (official DeBERTaV3); "
            "electra: 85% [MASK], 15% keep the original token (official ELECTRA)."
        },
    )
    temperature: float = field(
        default=1.0,
        metadata={"help": "Sampling temperature of the generator softmax (official 1.0)."},
    )
    generator_depth_ratio: float = field(
        default=0.5,
        metadata={
            "help": "Generator depth / discriminator depth when the generator is built from the "
            "discriminator config (DeBERTaV3: same width, half depth)."
        },
    )
    generator_config: str | None = field(
        default=None,
        metadata={
            "help": "Folder or config.json of an explicit generator config (overrides the "
            "depth ratio)."
        },
    )

    def __post_init__(self) -> None:
        require_choice("embedding_sharing", self.embedding_sharing, SHARING_MODES)
        require_range("rtd_lambda", self.rtd_lambda, 0.0, low_inclusive=False)
        require_range("mask_prob", self.mask_prob, 0.0, 1.0, low_inclusive=False)
        require_choice("masking_style", self.masking_style, MASKING_STYLES)
        require_range("temperature", self.temperature, 0.0, low_inclusive=False)
        require_range(
            "generator_depth_ratio", self.generator_depth_ratio, 0.0, 1.0, low_inclusive=False
        )
        require(
            self.generator_config is None or isinstance(self.generator_config, str),
            "generator_config",
            self.generator_config,
            "None or a path to a config folder / config.json",
        )
        if self.label_names is None:
            self.label_names = ["labels"]
        super().__post_init__()

    def rtd_fields(self) -> dict:
        """Only the fields this package adds (for reports and JSON)."""
        base = {f.name for f in dataclasses.fields(TrainingArguments)}
        return {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in base
        }
