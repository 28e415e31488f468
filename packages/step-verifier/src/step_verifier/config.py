"""Configs: ``VerifierConfig`` (saved with the verifier) and ``VerifierTrainingConfig``
(``TrainingArguments`` plus α, TRL style)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from lmlab_common import ConfigBase, require, require_int, require_range
from transformers import TrainingArguments

# Label ids of the token-classification head (official labels.txt order; "O" is never trained).
LABELS = ("SOLUTION-CORRECT", "SOLUTION-INCORRECT", "STEP-CORRECT", "STEP-INCORRECT", "O")
SOL_CORRECT, SOL_INCORRECT, STEP_CORRECT, STEP_INCORRECT, OTHER = range(5)
IGNORE = -100


@dataclass
class VerifierConfig(ConfigBase):
    """How paths are rendered for the verifier; saved next to its weights.

    Input: ``[CLS] step_1 <marker> step_2 <marker> ... [SEP] question [SEP]`` — solution first,
    question second, as the official code orders them.
    """

    config_name = "verifier_config.json"

    step_marker: str = field(
        default="%%",
        metadata={"help": "step-end marker appended to every step (official text tasks: %%)"},
    )
    max_length: int = field(default=512, metadata={"help": "official max_seq_length: 512"})
    num_labels: int = 5

    def __post_init__(self) -> None:
        require(
            isinstance(self.step_marker, str)
            and self.step_marker.strip() == self.step_marker
            and bool(self.step_marker),
            "step_marker",
            self.step_marker,
            "a non-empty string without surrounding whitespace",
        )
        require_int("max_length", self.max_length, low=8)
        require(self.num_labels == len(LABELS), "num_labels", self.num_labels, str(len(LABELS)))


@dataclass
class VerifierTrainingConfig(TrainingArguments):
    """Training arguments for :class:`~step_verifier.trainer.VerifierTrainer`.

    Loss = (Σ_sol CE + α·Σ_step CE) / (N_sol + α·N_step), the official weighted CE.
    """

    alpha: float = field(
        default=0.1,
        metadata={
            "help": "weight α of the step CE; 0.1 in the official README, 0 = plain verifier"
        },
    )
    remove_unused_columns: bool = field(
        default=False, metadata={"help": "keep the verifier's columns (input_ids, labels)"}
    )

    def __post_init__(self) -> None:
        require_range("alpha", self.alpha, 0.0)
        super().__post_init__()

    def method_dict(self) -> dict:
        return {"alpha": self.alpha}


def replace_training(config: VerifierTrainingConfig, **changes) -> VerifierTrainingConfig:
    return dataclasses.replace(config, **changes)
