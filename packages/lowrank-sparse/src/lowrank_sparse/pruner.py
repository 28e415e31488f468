"""LoSparsePruner: PLATON-style importance with EMA, cubic schedule, global structured masking.

Call it after ``optimizer.step()`` and before the gradients are cleared, either as a
``transformers.TrainerCallback`` (``on_optimizer_step``) or from a plain loop (``.step()``).
Its state (importance EMAs, averaging window, step) is written into every Trainer checkpoint
beside a loadable LoSparse directory, and read back when the Trainer resumes, so a resumed run
continues the same schedule and ends with the same masks.
"""

from __future__ import annotations

import json
import os
import warnings

import torch
from lmlab_common import atomic_write_json, get_logger, load_tensors, require, save_tensors
from torch import nn

from .checkpoint import CheckpointCallback, checkpoint_folder
from .config import LoSparseConfig
from .layer import LoSparseLinear
from .state import find_state

log = get_logger(__name__)
STATE_FILE = "losparse_pruner.json"
TENSORS_FILE = "losparse_pruner.safetensors"


def cubic_schedule(
    step: int,
    total_steps: int,
    warmup_steps: int,
    initial_warmup: int,
    final_warmup: int,
    initial_ratio: float,
    final_ratio: float,
    delta_t: int,
) -> tuple[float, bool]:
    """Remaining fraction r_t of S at ``step`` and whether to mask at this step.

    t <= t_i W_u: r_0, no masking. t > T - t_f W_u: r_f, mask every step. Otherwise
    r_t = r_f + (r_0 - r_f) (1 - (t - t_i W_u) / (T - (t_i + t_f) W_u))^3, masking when
    t mod delta_t == 0 (the official ``schedule_threshold_comb``).
    """
    begin = initial_warmup * warmup_steps
    end = total_steps - final_warmup * warmup_steps
    if step <= begin:
        return initial_ratio, False
    if step > end:
        return final_ratio, True
    progress = (step - begin) / (end - begin)
    ratio = final_ratio + (initial_ratio - final_ratio) * (1.0 - progress) ** 3
    return ratio, step % delta_t == 0


class LoSparsePruner(CheckpointCallback):
    """Prunes the units (rows by default) of every S towards ``final_sparse_ratio``.

    Args:
        model: a model after :func:`apply_losparse` (or a baseline with S).
        config: defaults to the model's resolved config (:func:`losparse_config`).
        total_steps: T, the number of optimizer steps of the run. ``None``: taken from the
            Trainer's ``state.max_steps`` at train start (a plain loop must give it). A value
            larger than the Trainer's ``max_steps`` is refused at train start with the ratio
            the run would end at.

    Importance per entry: ``|S * dL/dS|`` (sensitivity) or ``|S|`` (magnitude), averaged over a
    window of ``delta_t`` steps, then EMA-smoothed with ``beta1`` (and an uncertainty EMA with
    ``beta2`` < 1). Units are scored by the ``structured_method`` of their entries and kept by
    one global threshold across all layers, weighted by unit size, so the budget is in
    parameters. As in the official code only the values are zeroed, so the optimizer can regrow
    a unit until the next masking event; the final phase masks every step.
    """

    def __init__(
        self, model: nn.Module, config: LoSparseConfig | None = None, total_steps: int | None = None
    ) -> None:
        if config is None:
            state = find_state(model)
            config = state.config if state is not None and state.method == "losparse" else None
        require(isinstance(config, LoSparseConfig), "config", config, "a LoSparseConfig")
        self.config = config
        if total_steps is not None:
            self._check_total_steps(total_steps)
        super().__init__(model)
        self.layers = {
            n: m
            for n, m in model.named_modules()
            if isinstance(m, LoSparseLinear) and m.sparse is not None and not m.compacted
        }
        require(
            bool(self.layers),
            "model",
            type(model).__name__,
            "LoSparse layers with S in training form",
        )
        self.total_steps = total_steps
        self.global_step = 0
        self.window: dict[str, torch.Tensor] = {}
        self.window_count = 0
        self.exp_avg: dict[str, torch.Tensor] = {}
        self.exp_unc: dict[str, torch.Tensor] = {}
        self.ratio = config.initial_sparse_ratio

    def _check_total_steps(self, total_steps: int) -> None:
        c = self.config
        require(
            isinstance(total_steps, int) and not isinstance(total_steps, bool) and total_steps >= 1,
            "total_steps",
            total_steps,
            "an int >= 1",
        )
        warm = (c.initial_warmup + c.final_warmup) * c.warmup_steps
        require(
            total_steps > warm,
            "total_steps",
            total_steps,
            f"> (initial_warmup + final_warmup) * warmup_steps = {warm}",
        )

    def _schedule(self, step: int) -> tuple[float, bool]:
        c = self.config
        return cubic_schedule(
            step,
            self.total_steps,
            c.warmup_steps,
            c.initial_warmup,
            c.final_warmup,
            c.initial_sparse_ratio,
            c.final_sparse_ratio,
            c.delta_t,
        )

    # -------------------------------------------------------------- importance
    @property
    def _per_unit(self) -> bool:
        # With no uncertainty term and a linear reduction (mean/sum), the EMA of unit scores
        # equals the unit reduction of the entry EMA, so only one number per unit is kept.
        return self.config.beta2 == 1.0 and self.config.structured_method in ("mean", "sum")

    def _reduce(self, layer: LoSparseLinear, entry: torch.Tensor) -> torch.Tensor:
        dim = 1 if layer.direction == "row" else 0
        method = self.config.structured_method
        if method == "mean":
            return entry.mean(dim)
        if method == "sum":
            return entry.sum(dim)
        if method == "max":
            return entry.amax(dim)
        return entry.amin(dim)

    @torch.no_grad()
    def _instant_importance(self, name: str, layer: LoSparseLinear) -> torch.Tensor:
        """Entry importance (or its unit reduction when :attr:`_per_unit`)."""
        s = layer.sparse
        if self.config.importance == "magnitude":
            entry = s.detach().abs().float()
        else:
            if s.grad is None:
                raise RuntimeError(
                    f"LoSparsePruner.step: {name}.sparse has no gradient; call it after "
                    "loss.backward() and optimizer.step(), before optimizer.zero_grad()"
                )
            entry = (s.detach() * s.grad).abs_().float()
        return self._reduce(layer, entry) if self._per_unit else entry

    @torch.no_grad()
    def _update_importance(self, step: int) -> None:
        self.window_count += 1
        for name, layer in self.layers.items():
            cur = self._instant_importance(name, layer)
            if name not in self.window:
                self.window[name] = torch.zeros_like(cur)
            self.window[name].add_(cur.sub_(self.window[name]), alpha=1.0 / self.window_count)
        if step % self.config.delta_t == 0:
            b1, b2 = self.config.beta1, self.config.beta2
            for name, win in self.window.items():
                avg = self.exp_avg.setdefault(name, torch.zeros_like(win))
                avg.mul_(b1).add_(win, alpha=1 - b1)
                if b2 < 1:
                    unc = self.exp_unc.setdefault(name, torch.zeros_like(win))
                    unc.mul_(b2).add_((win - avg).abs(), alpha=1 - b2)
            self.window, self.window_count = {}, 0

    def scores(self) -> dict[str, torch.Tensor]:
        """Current unit scores per layer (rows or columns of S)."""
        out = {}
        for name, layer in self.layers.items():
            if name in self.exp_avg:
                entry = self.exp_avg[name]
                if name in self.exp_unc:
                    entry = entry * self.exp_unc[name]
            elif name in self.window:
                entry = self.window[name]
            else:
                entry = self._instant_importance(name, layer)
            out[name] = entry if self._per_unit else self._reduce(layer, entry)
        return out

    @torch.no_grad()
    def mask(self, ratio: float) -> int:
        """Keep the best units across all layers so that at most ``ratio`` of all S entries
        remain; zero the rest. Returns the number of entries kept."""
        scores = self.scores()
        names = list(self.layers)
        flat = torch.cat([scores[n].cpu() for n in names])
        sizes = torch.cat(
            [torch.full((scores[n].numel(),), self.layers[n].unit_size) for n in names]
        )
        budget = ratio * float(sizes.sum())
        order = torch.argsort(flat, descending=True, stable=True)
        keep_sorted = torch.cumsum(sizes[order], 0) <= budget + 1e-6
        keep = torch.zeros_like(flat, dtype=torch.bool)
        keep[order[keep_sorted]] = True
        start = 0
        for n in names:
            count = scores[n].numel()
            self.layers[n].set_keep_mask(keep[start : start + count])
            start += count
        return int(sizes[keep].sum())

    # -------------------------------------------------------------- entry points
    def step(self, model: nn.Module | None = None, global_step: int | None = None) -> float:
        """One pruning step after ``optimizer.step()``. Returns the current remaining ratio."""
        require(
            self.total_steps is not None,
            "total_steps",
            None,
            "an int (give it to LoSparsePruner when not training with a Trainer)",
        )
        self.global_step = self.global_step + 1 if global_step is None else int(global_step)
        t = self.global_step
        self._update_importance(t)
        self.ratio, do_mask = self._schedule(t)
        if do_mask:
            self.mask(self.ratio)
        return self.ratio

    def finalize(self) -> int:
        """Mask to the final ratio now (e.g. when a run stops early)."""
        self.ratio = self.config.final_sparse_ratio
        return self.mask(self.ratio)

    # -------------------------------------------------------------- state
    def state_dict(self) -> tuple[dict, dict[str, torch.Tensor]]:
        """(JSON-able scalars, tensors) of everything the schedule depends on."""
        scalars = {
            "global_step": self.global_step,
            "window_count": self.window_count,
            "ratio": self.ratio,
            "total_steps": self.total_steps,
            "config": self.config.to_dict(),
        }
        tensors = {}
        for kind, table in (("exp_avg", self.exp_avg), ("exp_unc", self.exp_unc),
                            ("window", self.window)):  # fmt: skip
            for name, value in table.items():
                tensors[f"{kind}::{name}"] = value.detach().cpu().contiguous()
        return scalars, tensors

    def load_state_dict(self, scalars: dict, tensors: dict[str, torch.Tensor]) -> None:
        """Restore :meth:`state_dict` output (layer names must match this pruner's)."""
        self.global_step = int(scalars["global_step"])
        self.window_count = int(scalars["window_count"])
        self.ratio = float(scalars["ratio"])
        if self.total_steps is None and scalars.get("total_steps") is not None:
            self.total_steps = int(scalars["total_steps"])
        tables = {"exp_avg": {}, "exp_unc": {}, "window": {}}
        for key, value in tensors.items():
            kind, _, name = key.partition("::")
            require(
                name in self.layers,
                "pruner state",
                key,
                f"layers of this model {list(self.layers)[:3]}...",
            )
            tables[kind][name] = value.to(self.layers[name].sparse.device)
        self.exp_avg, self.exp_unc, self.window = (
            tables["exp_avg"],
            tables["exp_unc"],
            tables["window"],
        )

    def save_state(self, directory: str | os.PathLike) -> None:
        """Write the pruner state to ``directory`` (``losparse_pruner.{json,safetensors}``)."""
        scalars, tensors = self.state_dict()
        os.makedirs(directory, exist_ok=True)
        save_tensors(tensors, os.path.join(directory, TENSORS_FILE))
        atomic_write_json(os.path.join(directory, STATE_FILE), scalars)

    def load_state(self, directory: str | os.PathLike) -> None:
        """Read a state written by :meth:`save_state` (e.g. from a Trainer checkpoint)."""
        path = os.path.join(directory, STATE_FILE)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no {STATE_FILE} in {os.fspath(directory)!r}")
        with open(path, encoding="utf-8") as fh:
            scalars = json.load(fh)
        self.load_state_dict(scalars, load_tensors(os.path.join(directory, TENSORS_FILE)))

    # -------------------------------------------------------------- Trainer hooks
    def on_train_begin(self, args, state, control, **kwargs):
        if self.total_steps is None:
            self.total_steps = int(state.max_steps)
            self._check_total_steps(self.total_steps)
        elif self.total_steps > state.max_steps:
            ratio, _ = self._schedule(int(state.max_steps))
            raise ValueError(
                f"total_steps={self.total_steps} is invalid: the Trainer runs state.max_steps="
                f"{state.max_steps} optimizer steps, so pruning would stop with {ratio:.3f} of S "
                f"kept instead of final_sparse_ratio={self.config.final_sparse_ratio:.3f}; "
                f"allowed: total_steps <= {state.max_steps} (or None: the Trainer's max_steps)"
            )
        if state.global_step > 0 and self.global_step != state.global_step:
            folder = checkpoint_folder(args, state, resuming=True)
            if folder is not None and os.path.isfile(os.path.join(folder, STATE_FILE)):
                self.load_state(folder)
                log.info("LoSparsePruner resumed at step %d from %s", self.global_step, folder)
            else:
                warnings.warn(
                    f"resuming at step {state.global_step} without a LoSparsePruner state in "
                    f"{folder!r}: importance averages restart from zero, so masks will differ "
                    "from an uninterrupted run. A callback cannot see the path given to "
                    "Trainer.train(resume_from_checkpoint=...) when it lies outside "
                    f"output_dir={args.output_dir!r}; set TrainingArguments("
                    "resume_from_checkpoint=<that folder>) or call pruner.load_state(<folder>) "
                    "before training",
                    UserWarning,
                    stacklevel=2,
                )
                self.global_step = int(state.global_step)
        return control

    def on_optimizer_step(self, args, state, control, **kwargs):
        # Trainer increments state.global_step after this hook, so this is step t = gs + 1.
        self.step(global_step=state.global_step + 1)
        return control

    def on_save(self, args, state, control, **kwargs):
        folder = self.write_checkpoint(args, state)
        if folder is not None:
            self.save_state(folder)
        return control
