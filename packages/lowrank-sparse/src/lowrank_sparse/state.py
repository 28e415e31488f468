"""The method state a LoSparse or DSEE model carries: one object, one attribute.

``apply_losparse`` / ``apply_dsee`` (and the loaders) register a :class:`MethodState` on the
model as ``model.lowrank_sparse_state``. It holds everything the method needs later that is not
a parameter: the resolved config, and for DSEE the removed heads and the masks of pruned
non-adapted layers. Save/load and Trainer checkpoints (through the package's callbacks) write
and restore it; ``merge_*`` removes it.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import torch
from lmlab_common import require
from torch import nn

if TYPE_CHECKING:
    from .config import LoSparseConfig
    from .dsee.config import DSEEConfig

STATE_ATTR = "lowrank_sparse_state"
METHODS = ("losparse", "dsee")


@dataclasses.dataclass
class MethodState:
    """What a compressed/adapted model remembers about its method.

    ``config``: the resolved :class:`LoSparseConfig` or :class:`DSEEConfig`.
    ``pruned_heads``: DSEE, ``{attention module: removed original head indices}``.
    ``masks``: DSEE, ``{linear name: (d_out, d_in) bool keep-mask}`` of non-adapted layers
    pruned in place.
    """

    method: str
    config: LoSparseConfig | DSEEConfig
    pruned_heads: dict[str, list[int]] = dataclasses.field(default_factory=dict)
    masks: dict[str, torch.Tensor] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        from .config import LoSparseConfig
        from .dsee.config import DSEEConfig

        require(self.method in METHODS, "method", self.method, f"one of {METHODS}")
        expected = LoSparseConfig if self.method == "losparse" else DSEEConfig
        require(
            isinstance(self.config, expected),
            "config",
            type(self.config).__name__,
            expected.__name__,
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON part (masks are tensors and are saved beside it)."""
        return {
            "method": self.method,
            "config": self.config.to_dict(),
            "pruned_heads": {k: list(v) for k, v in self.pruned_heads.items()},
        }


def get_state(model: nn.Module, method: str) -> MethodState:
    """The model's :class:`MethodState` for ``method``; ``ValueError`` naming what is allowed."""
    state = getattr(model, STATE_ATTR, None)
    if not isinstance(state, MethodState) or state.method != method:
        what = "LoSparse layers" if method == "losparse" else "DSEE adapters"
        entry = "apply_losparse or load_losparse"
        if method == "dsee":
            entry = "apply_dsee or load_dsee"
        raise ValueError(
            f"model={type(model).__name__} has no {what}; allowed: a model returned by {entry}"
        )
    return state


def find_state(model: nn.Module) -> MethodState | None:
    """The model's :class:`MethodState`, or ``None``."""
    state = getattr(model, STATE_ATTR, None)
    return state if isinstance(state, MethodState) else None


def set_state(model: nn.Module, state: MethodState) -> MethodState:
    """Register ``state`` on ``model`` (a plain attribute, not a submodule or buffer)."""
    other = find_state(model)
    require(
        other is None or other.method == state.method,
        "model",
        f"already carries {other.method if other else ''} state",
        f"a model without another method applied (got {state.method})",
    )
    object.__setattr__(model, STATE_ATTR, state)
    return state


def clear_state(model: nn.Module) -> None:
    if STATE_ATTR in model.__dict__:
        del model.__dict__[STATE_ATTR]


__all__ = ["STATE_ATTR", "MethodState", "clear_state", "find_state", "get_state", "set_state"]
