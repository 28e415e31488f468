"""Trainer checkpoints that load: the package's own format written into each checkpoint.

A ``transformers.Trainer`` checkpoint holds the training-form state dict, which a plain
``AutoModel.from_pretrained`` cannot rebuild (the replaced layers would come back missing and
randomly initialised). :class:`CheckpointCallback` (and :class:`LoSparsePruner`, which is one)
writes a :func:`save_losparse` / :func:`save_dsee` directory into every
``checkpoint-<step>`` folder, so ``load_losparse(base, checkpoint)`` and
``load_dsee(base, checkpoint)`` accept the folder as it is.
"""

from __future__ import annotations

import os

from lmlab_common import require
from torch import nn
from transformers import TrainerCallback

from .dsee.serialization import save_dsee
from .serialization import save_losparse
from .state import find_state


def checkpoint_folder(args, state, resuming: bool = False) -> str | None:
    """The ``checkpoint-<global_step>`` folder of this Trainer step (``None`` if absent when
    ``resuming``); ``args.resume_from_checkpoint`` wins when it names a folder."""
    resume = getattr(args, "resume_from_checkpoint", None)
    if resuming and isinstance(resume, str) and os.path.isdir(resume):
        return resume
    folder = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
    return folder if (os.path.isdir(folder) or not resuming) else None


def save_method(model: nn.Module, directory: str | os.PathLike) -> str:
    """:func:`save_losparse` or :func:`save_dsee`, whichever method ``model`` carries."""
    state = find_state(model)
    require(state is not None, "model", type(model).__name__, "a LoSparse or DSEE model")
    if state.method == "losparse":
        return save_losparse(model, directory)
    return save_dsee(model, directory)


class CheckpointCallback(TrainerCallback):
    """Writes the package's own format (LoSparse or DSEE) into every Trainer checkpoint.

    ``Trainer(..., callbacks=[CheckpointCallback(model)])``; :class:`LoSparsePruner` already
    does this (plus its own state). Only the main process writes.
    """

    def __init__(self, model: nn.Module) -> None:
        require(find_state(model) is not None, "model", type(model).__name__,
                "a model returned by apply_losparse/apply_dsee or a loader")  # fmt: skip
        self.model = model

    def write_checkpoint(self, args, state) -> str | None:
        """Save the model into this step's checkpoint folder; the folder (main process only)."""
        if not state.is_world_process_zero:
            return None
        folder = checkpoint_folder(args, state)
        save_method(self.model, folder)
        return folder

    def on_save(self, args, state, control, **kwargs):
        self.write_checkpoint(args, state)
        return control


__all__ = ["CheckpointCallback", "checkpoint_folder", "save_method"]
