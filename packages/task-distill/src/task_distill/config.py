"""``TEDConfig``: ``TrainingArguments`` plus the TED / KD / LWD fields (TRL style)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from lmlab_common import require, require_choice, require_range
from transformers import TrainingArguments
from transformers.activations import ACT2FN

from .filters import TASKS
from .mapping import parse_layer_pairs

METHODS = ("ted", "kd", "lwd")
LAYER_LOSS_SCALES = ("teacher", "none")


@dataclass
class TEDConfig(TrainingArguments):
    """Training arguments for both TED stages and the KD / LWD baselines.

    Defaults marked *official* come from ``cliang1453/task-aware-distillation``; the alphas are
    tuned per task there (KL 5-20, raw layer MSE 20-7500). Here the layer MSE is normalised by
    the teacher's state scale by default (``layer_loss_scale``), with ``mse_alpha=1.0``.
    """

    kl_alpha: float = field(
        default=20.0,
        metadata={"help": "α_KL: weight of T²·KL(teacher‖student). Official GLUE scripts: 20."},
    )
    mse_alpha: float = field(
        default=1.0,
        metadata={
            "help": "α_layer: weight of the layer MSE (TED: filter outputs; LWD: projected raw "
            "states). Ignored by KDTrainer. Default 1.0 with layer_loss_scale='teacher' (the "
            "term starts near 1, like the task loss). The official code uses the raw MSE with "
            "20-7500 per task (QNLI 100): set layer_loss_scale='none' and mse_alpha=100."
        },
    )
    temperature: float = field(
        default=2.0, metadata={"help": "KD temperature T (official: 2.0, hard-coded)."}
    )
    filter_output_dim: int | None = field(
        default=None,
        metadata={"help": "Filter output width d_f; None = the teacher's hidden size (official)."},
    )
    filter_nonlinear: bool = field(
        default=False,
        metadata={"help": "Linear→act→Linear filters instead of one Linear (official default)."},
    )
    filter_activation: str = field(
        default="gelu", metadata={"help": "Activation of non-linear filters and stage-I poolers."}
    )
    filter_dropout: float = field(
        default=0.1, metadata={"help": "Stage-I head dropout (official cls_dropout default)."}
    )
    layer_mapping: str = field(
        default="auto",
        metadata={
            "help": "'auto' (official interval rule: the last layer of each block, paired in "
            "order) or explicit 1-based 'student:teacher' pairs, e.g. '1:2,2:4'."
        },
    )
    num_filters: int | None = field(
        default=None,
        metadata={"help": "K for the 'auto' mapping; None = the student depth."},
    )
    mask_padding: bool = field(
        default=True,
        metadata={
            "help": "Exclude padding positions from the layer MSE. Default True (a fix): the "
            "official loss averages over padding too, so its weight changes with how much "
            "padding a batch has. False = official behaviour."
        },
    )
    layer_loss_scale: str = field(
        default="teacher",
        metadata={
            "help": "'teacher' (default, a fix): divide each layer's MSE by the mean square of "
            "the teacher's (filtered) states on real tokens, so the term is scale-free and "
            "mse_alpha means the same on any model. 'none': the official raw MSE, whose size "
            "follows the teacher's hidden-state scale (it can drown the task loss)."
        },
    )
    task: str | None = field(
        default=None,
        metadata={"help": f"One of {TASKS}; None = inferred from the model class."},
    )

    def __post_init__(self) -> None:
        require_range("kl_alpha", self.kl_alpha, 0.0)
        require_range("mse_alpha", self.mse_alpha, 0.0)
        require_range("temperature", self.temperature, 0.0, low_inclusive=False)
        require_range("filter_dropout", self.filter_dropout, 0.0, 1.0, high_inclusive=False)
        if self.filter_output_dim is not None:
            require(
                isinstance(self.filter_output_dim, int) and self.filter_output_dim > 0,
                "filter_output_dim",
                self.filter_output_dim,
                "an int > 0 or None",
            )
        if self.num_filters is not None:
            require(
                isinstance(self.num_filters, int) and self.num_filters > 0,
                "num_filters",
                self.num_filters,
                "an int > 0 or None",
            )
        require_choice("filter_activation", self.filter_activation, sorted(ACT2FN))
        require_choice("layer_loss_scale", self.layer_loss_scale, LAYER_LOSS_SCALES)
        if self.task is not None:
            require_choice("task", self.task, TASKS)
        if not isinstance(self.layer_mapping, str):
            pairs = parse_layer_pairs(self.layer_mapping)
            self.layer_mapping = ",".join(f"{s}:{t}" for s, t in pairs)
        elif self.layer_mapping.strip().lower() != "auto":
            parse_layer_pairs(self.layer_mapping)  # validates the syntax early
        if self.label_names is None:
            self.label_names = ["labels"]
        super().__post_init__()

    @classmethod
    def from_training_args(cls, args: TrainingArguments, **ted_fields) -> TEDConfig:
        """A ``TEDConfig`` with every ``TrainingArguments`` field of ``args`` (``args`` itself
        when it already is one and no fields are given) plus the given TED fields."""
        if not isinstance(args, TrainingArguments):
            raise ValueError(
                f"args={type(args).__name__} is invalid; allowed: TrainingArguments or TEDConfig"
            )
        if isinstance(args, cls) and not ted_fields:
            return args
        names = {f.name for f in dataclasses.fields(args) if f.init}
        # to_dict gives user-facing values (enums as strings); secrets come from the object.
        kwargs = {k: v for k, v in args.to_dict().items() if k in names}
        for name in names:
            if name.endswith("token") or name not in kwargs:
                kwargs[name] = getattr(args, name)
        return cls(**{**kwargs, **ted_fields})

    def ted_fields(self) -> dict:
        """Only the fields this package adds (for reports and JSON)."""
        base = {f.name for f in dataclasses.fields(TrainingArguments)}
        return {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in base
        }
