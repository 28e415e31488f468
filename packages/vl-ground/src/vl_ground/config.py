"""``GrillConfig`` (the model) and ``GrillTrainingArguments`` (pre-training, TRL style)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lmlab_common import require, require_int, require_range
from transformers import BartConfig, PretrainedConfig, TrainingArguments, ViTConfig

OBJECTIVES = ("caption", "span", "vqa", "align_contrastive", "align_tokens")
ALIGNMENT_OBJECTIVES = ("align_contrastive", "align_tokens")


class GrillConfig(PretrainedConfig):
    """A ViT whose patch states are projected into a BART encoder–decoder, plus a phrase–region
    alignment head; boxes also exist as ``grid``×``grid`` location words (``loc0``…).

    ``vision_config`` / ``text_config`` are ``ViTConfig`` / ``BartConfig`` (or their dicts).
    The text vocabulary must already include the location words (``GrillProcessor`` adds them).
    """

    model_type = "grill"
    sub_configs = {"vision_config": ViTConfig, "text_config": BartConfig}

    def __init__(
        self,
        vision_config: dict[str, Any] | ViTConfig | None = None,
        text_config: dict[str, Any] | BartConfig | None = None,
        grid_size: int = 8,
        align_dim: int = 64,
        align_temperature: float = 0.1,
        **kwargs: Any,
    ):
        if isinstance(vision_config, dict):
            vision_config = ViTConfig(**vision_config)
        if isinstance(text_config, dict):
            text_config = BartConfig(**text_config)
        self.vision_config = vision_config or ViTConfig(
            image_size=64,
            patch_size=8,
            hidden_size=96,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=192,
        )
        self.text_config = text_config or BartConfig(
            vocab_size=128,
            d_model=96,
            encoder_layers=2,
            decoder_layers=2,
            encoder_attention_heads=4,
            decoder_attention_heads=4,
            encoder_ffn_dim=192,
            decoder_ffn_dim=192,
            max_position_embeddings=128,
        )
        require_int("grid_size", grid_size, low=2)
        patches = self.vision_config.image_size // self.vision_config.patch_size
        require(
            patches == grid_size,
            "grid_size",
            grid_size,
            f"the ViT patch grid ({self.vision_config.image_size}/"
            f"{self.vision_config.patch_size} = {patches})",
        )
        require_int("align_dim", align_dim, low=1)
        require_range("align_temperature", align_temperature, 0, None, low_inclusive=False)
        self.grid_size = grid_size
        self.align_dim = align_dim
        self.align_temperature = align_temperature
        super().__init__(**kwargs)


@dataclass
class GrillTrainingArguments(TrainingArguments):
    """Pre-training arguments: which objectives run and their weights."""

    objectives: tuple[str, ...] = field(
        default=("caption", "span", "vqa", "align_contrastive"),
        metadata={
            "help": "Switchable objectives: caption (prefix captioning), span (masked-span "
            "infilling), vqa, align_contrastive (phrase–patch InfoNCE, the grounding head), "
            "align_tokens (phrase → two location words, KOSMOS-2 style; slow to learn)."
        },
    )
    align_weight: float = field(
        default=1.0, metadata={"help": "Weight of the phrase–patch alignment loss."}
    )
    extent_weight: float = field(
        default=1.0,
        metadata={
            "help": "Weight of the per-cell inside/outside-the-box loss that teaches the "
            "alignment head an object's extent (0: InfoNCE only)."
        },
    )
    span_mask_fraction: float = field(
        default=0.3, metadata={"help": "Fraction of caption words masked as one span."}
    )
    text_rows_per_image: int = field(
        default=1,
        metadata={"help": "Text objectives drawn per image per batch (a task mixture); 0 = all."},
    )
    remove_unused_columns: bool = field(
        default=False, metadata={"help": "Kept False: the collator needs the scene fields."}
    )

    def __post_init__(self):
        if isinstance(self.objectives, str):
            self.objectives = tuple(o.strip() for o in self.objectives.split(",") if o.strip())
        self.objectives = tuple(self.objectives)
        bad = [o for o in self.objectives if o not in OBJECTIVES]
        require(
            not bad and bool(self.objectives),
            "objectives",
            self.objectives,
            "a non-empty subset of " + ", ".join(OBJECTIVES),
        )
        require_range("align_weight", self.align_weight, 0, None)
        require_range("extent_weight", self.extent_weight, 0, None)
        require_int("text_rows_per_image", self.text_rows_per_image, low=0)
        require_range("span_mask_fraction", self.span_mask_fraction, 0, 1, low_inclusive=False)
        super().__post_init__()
