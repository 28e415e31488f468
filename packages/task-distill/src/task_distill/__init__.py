"""task-distill: TED task-aware layer-wise distillation with KD and layer-wise baselines.

Stage I (:class:`FilterTrainer`) learns task-aware filters on a frozen teacher and a frozen
student; stage II (:class:`TEDTrainer`) trains the student so its filtered states match the
teacher's. :class:`KDTrainer` and :class:`LayerwiseTrainer` are the baselines. All loss maths
is in :mod:`task_distill.losses` for reuse in custom loops.
"""

from .config import METHODS, TEDConfig
from .data import PadCollator
from .filters import FilterConfig, TaskAwareFilters, infer_task
from .losses import (
    causal_lm_loss,
    classification_loss,
    kd_loss,
    layer_mse_loss,
    make_filter,
    ted_loss,
)
from .mapping import (
    auto_layer_pairs,
    check_layer_pairs,
    hidden_size,
    interval_layers,
    num_layers,
    parse_layer_pairs,
    resolve_layer_pairs,
    student_from_config,
    student_from_teacher,
)
from .model import FilteredModel, run_model
from .trainer import (
    FilterTrainer,
    KDTrainer,
    LayerwiseTrainer,
    TEDTrainer,
    check_compatible,
    layer_pairs_for,
)

__version__ = "0.1.0"

__all__ = [
    "METHODS",
    "FilterConfig",
    "FilterTrainer",
    "FilteredModel",
    "KDTrainer",
    "LayerwiseTrainer",
    "PadCollator",
    "TEDConfig",
    "TEDTrainer",
    "TaskAwareFilters",
    "auto_layer_pairs",
    "causal_lm_loss",
    "check_compatible",
    "check_layer_pairs",
    "classification_loss",
    "hidden_size",
    "infer_task",
    "interval_layers",
    "kd_loss",
    "layer_mse_loss",
    "layer_pairs_for",
    "make_filter",
    "num_layers",
    "parse_layer_pairs",
    "resolve_layer_pairs",
    "run_model",
    "student_from_config",
    "student_from_teacher",
    "ted_loss",
]
