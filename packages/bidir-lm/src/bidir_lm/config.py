"""``MIMConfig`` (``TrainingArguments`` + the MIM fields, TRL style) and ``BidirConfig``
(what a saved :class:`~bidir_lm.model.BidirectionalLM` needs to be rebuilt)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from lmlab_common import ConfigBase, require, require_choice, require_range
from transformers import TrainingArguments

from .options import DIVERGENCES, METHODS, SHARINGS, STOP_GRADIENTS


@dataclass
class MIMConfig(TrainingArguments):
    """Training arguments for MIM and its two baselines (``method``).

    The MIM paper's exact divergence and weight could not be verified (no official code in
    reach); total variation with β = 1 is this package's default, KL / symmetric KL are options.
    """

    method: str = field(
        default="mim",
        metadata={
            "help": "mim: CE_forward + CE_backward + β·agreement; l2r: CE_forward only; fim: "
            "CE_forward on FIM-transformed documents (apply bidir_lm.apply_fim to the data)."
        },
    )
    beta: float = field(
        default=1.0,
        metadata={"help": "β, weight of the agreement term (not verified from the paper)."},
    )
    divergence: str = field(
        default="tv",
        metadata={
            "help": "Agreement divergence D(p_forward, p_backward) per position: tv (total "
            "variation, default), kl (KL(p_forward‖p_backward)) or skl (KL both ways, summed)."
        },
    )
    stop_gradient: str = field(
        default="none",
        metadata={
            "help": "Detach one side inside the agreement term: none (both sides learn to "
            "agree), forward or backward (that side's distribution is a fixed target)."
        },
    )

    def __post_init__(self) -> None:
        require_choice("method", self.method, METHODS)
        require_range("beta", self.beta, 0.0)
        require_choice("divergence", self.divergence, DIVERGENCES)
        require_choice("stop_gradient", self.stop_gradient, STOP_GRADIENTS)
        if self.label_names is None:
            self.label_names = []  # the model builds its own targets from input_ids
        # Trainer drops columns the wrapper's forward() does not name; keep ours.
        super().__post_init__()

    def mim_fields(self) -> dict:
        """Only the fields this package adds (for reports and JSON)."""
        base = {f.name for f in dataclasses.fields(TrainingArguments)}
        return {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in base
        }


@dataclass
class BidirConfig(ConfigBase):
    """How a :class:`~bidir_lm.model.BidirectionalLM` is put together (saved next to it)."""

    config_name = "bidir_config.json"

    sharing: str = "shared"
    forward_token_id: int = -1
    backward_token_id: int = -1
    fim_prefix_id: int = -1
    fim_suffix_id: int = -1
    fim_middle_id: int = -1
    fim_end_id: int = -1
    pad_token_id: int = 0
    method: str = "mim"

    def __post_init__(self) -> None:
        require_choice("sharing", self.sharing, SHARINGS)
        require_choice("method", self.method, METHODS)
        for name in (
            "forward_token_id",
            "backward_token_id",
            "fim_prefix_id",
            "fim_suffix_id",
            "fim_middle_id",
            "fim_end_id",
            "pad_token_id",
        ):
            value = getattr(self, name)
            require(isinstance(value, int) and value >= 0, name, value, "a token id >= 0")

    @property
    def fim_ids(self) -> dict[str, int]:
        return {
            "prefix": self.fim_prefix_id,
            "suffix": self.fim_suffix_id,
            "middle": self.fim_middle_id,
            "end": self.fim_end_id,
        }
