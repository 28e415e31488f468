"""``JGRConfig``: ``TrainingArguments`` plus the JGR fields (TRL style).

Defaults marked *official* come from ``microsoft/ProphetNet/JGR`` (``run_train.sh`` and
``trainer_utils/training_args.py``); the learning rates there are 5e-5 (generator) and 1e-5
(ranker) for bart-large / roberta-large.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from lmlab_common import require, require_choice, require_int, require_range
from transformers import TrainingArguments

LOSS_TYPES = ("contrastive", "binary", "rank", "listwise")
PICK_STRATEGIES = ("bottom", "top", "random", "top-bottom", "all")


@dataclass
class JGRConfig(TrainingArguments):
    """Training arguments for JGR (and, with ``iteration_ranker_steps`` at an end, for ranker
    warm-up or generator-only baselines).

    ``learning_rate`` is the generator's; ``ranker_learning_rate`` the ranker's. One global
    step counter drives both: in each block of ``iteration_steps`` optimizer steps the first
    ``iteration_ranker_steps`` update the ranker and the rest the generator.
    """

    generator_num_cand_generated: int = field(
        default=8, metadata={"help": "Samples per source for the generator update (official 8)."}
    )
    num_cand_generated: int = field(
        default=16, metadata={"help": "Samples per source for the ranker update (official 16)."}
    )
    num_cand_picked: int = field(
        default=3,
        metadata={"help": "Candidates kept for the ranker loss: best by metric + 2 (official 3)."},
    )
    candidate_pick_strategy: str = field(
        default="bottom",
        metadata={
            "help": f"Negatives next to the best sample: {PICK_STRATEGIES}. 'bottom' (official) = "
            "the worst ones; 'all' keeps every sample sorted by metric (listwise)."
        },
    )
    ranker_loss_type: str = field(
        default="contrastive",
        metadata={
            "help": f"{LOSS_TYPES}; official default contrastive (-log softmax at 0). "
            "'listwise' (not official) = cross-entropy against softmax(metric / "
            "listwise_temperature), which also orders near misses."
        },
    )
    listwise_temperature: float = field(
        default=0.1, metadata={"help": "Temperature of the 'listwise' target distribution."}
    )
    ranker_reward_scaler: float = field(
        default=1.5, metadata={"help": "Weight of the centred ranker score (official 1.5)."}
    )
    metric_reward_scaler: float = field(
        default=1.5, metadata={"help": "Weight of the centred metric (official 1.5)."}
    )
    normalize_rewards: bool = field(
        default=False,
        metadata={"help": "Also divide each centred term by its per-source std (official off)."},
    )
    generator_supervised_lambda: float = field(
        default=1.0, metadata={"help": "λ: weight of the MLE term (official 1.0)."}
    )
    iteration_steps: int = field(
        default=200, metadata={"help": "Optimizer steps per ranker+generator block (official 200)."}
    )
    iteration_ranker_steps: int = field(
        default=100,
        metadata={
            "help": "Ranker steps at the start of each block (official 100). 0 = generator only "
            "(frozen ranker); = iteration_steps = ranker only (warm-up)."
        },
    )
    ranker_learning_rate: float = field(
        default=1e-5, metadata={"help": "Ranker learning rate (official 1e-5, roberta-large)."}
    )
    do_sample: bool = field(
        default=True, metadata={"help": "Sample training candidates (official) or beam search."}
    )
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature."})
    top_k: int = field(
        default=50, metadata={"help": "Sampling top-k (official: HF default 50); 0 = off."}
    )
    top_p: float = field(default=1.0, metadata={"help": "Sampling nucleus mass."})
    max_source_length: int = field(default=400, metadata={"help": "Generator source tokens."})
    max_new_tokens: int = field(
        default=109, metadata={"help": "Longest candidate the generator samples (CNN/DM 109)."}
    )
    ranker_max_source_length: int = field(
        default=400, metadata={"help": "Ranker source tokens (official CNN/DM 400)."}
    )
    ranker_max_target_length: int = field(
        default=109, metadata={"help": "Ranker candidate tokens (official CNN/DM 109)."}
    )
    mask_pad_after_eos: bool = field(
        default=True,
        metadata={
            "help": "Average the policy-gradient term over generated tokens up to EOS only "
            "(default, a fix). False = official: mean over every position incl. pads."
        },
    )

    ranker_step_loss_weight: float = field(
        default=0.0,
        metadata={
            "help": "Weight of the ranker's auxiliary step-check loss (not official; needs a "
            "Ranker with step_head=True and a step_labeler on the trainer). 0 = off."
        },
    )

    def __post_init__(self) -> None:
        require_int("generator_num_cand_generated", self.generator_num_cand_generated, 2)
        require_int("num_cand_generated", self.num_cand_generated, 2)
        require_int("num_cand_picked", self.num_cand_picked, 2)
        require(
            self.num_cand_picked <= self.num_cand_generated,
            "num_cand_picked",
            self.num_cand_picked,
            f"at most num_cand_generated={self.num_cand_generated} (cannot pick more "
            "candidates than were sampled)",
        )
        require_choice("candidate_pick_strategy", self.candidate_pick_strategy, PICK_STRATEGIES)
        require_choice("ranker_loss_type", self.ranker_loss_type, LOSS_TYPES)
        require_range("listwise_temperature", self.listwise_temperature, 0.0, low_inclusive=False)
        require_range("ranker_reward_scaler", self.ranker_reward_scaler, 0.0)
        require_range("metric_reward_scaler", self.metric_reward_scaler, 0.0)
        require_range("generator_supervised_lambda", self.generator_supervised_lambda, 0.0)
        require_int("iteration_steps", self.iteration_steps, 1)
        require_int("iteration_ranker_steps", self.iteration_ranker_steps, 0, self.iteration_steps)
        require_range("ranker_learning_rate", self.ranker_learning_rate, 0.0)
        require_range("ranker_step_loss_weight", self.ranker_step_loss_weight, 0.0)
        require_range("temperature", self.temperature, 0.0, low_inclusive=False)
        require_int("top_k", self.top_k, 0)
        require_range("top_p", self.top_p, 0.0, 1.0, low_inclusive=False)
        for name in (
            "max_source_length",
            "max_new_tokens",
            "ranker_max_source_length",
            "ranker_max_target_length",
        ):
            require_int(name, getattr(self, name), 1)
        # The collator hands raw strings to the trainer; keep every column.
        self.remove_unused_columns = False
        if self.ddp_find_unused_parameters is None:
            # Each step trains one of the two models; DDP must not wait for the other's grads.
            self.ddp_find_unused_parameters = True
        super().__post_init__()

    def jgr_fields(self) -> dict:
        """Only the fields this package adds (for reports and JSON)."""
        base = {f.name for f in dataclasses.fields(TrainingArguments)}
        return {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in base
        }

    def phase(self, global_step: int) -> str:
        """``"ranker"`` or ``"generator"``: which model optimizer step ``global_step`` updates."""
        in_block = global_step % self.iteration_steps
        return "ranker" if in_block < self.iteration_ranker_steps else "generator"
