"""``VerifierTrainer`` (a ``transformers.Trainer``) and the verifier's training data.

Checkpointing, resume, logging, mixed precision and torchrun / accelerate multi-process
training come from ``Trainer`` unchanged; α lives in the ``VerifierTrainingConfig`` that the
checkpoint stores (``training_args.bin``), so a resumed run uses the same loss.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence

import torch
from datasets import Dataset
from transformers import Trainer

from .config import IGNORE, SOL_CORRECT, SOL_INCORRECT, STEP_CORRECT, VerifierTrainingConfig
from .data import Problem
from .labeling import StepLabeler, is_correct, label_problems
from .model import StepAwareVerifier, pad_batch


def build_verifier_dataset(
    verifier: StepAwareVerifier,
    problems: Sequence[Problem],
    labeler: StepLabeler | None = None,
    include_gold: bool = True,
) -> Dataset:
    """Rows ``input_ids`` / ``labels`` for every path of every problem, labelled by
    ``labeler`` (default GSM8K rule); the gold solution is one more positive (official)."""
    if not problems:
        raise ValueError("problems=[] is invalid; allowed: at least one problem")
    all_labels = label_problems(problems, labeler)
    questions, paths, labels = [], [], []
    for problem, step_labels in zip(problems, all_labels, strict=True):
        for path, steps in zip(problem.paths, step_labels, strict=True):
            questions.append(problem.question)
            paths.append(path)
            labels.append((is_correct(path, problem.gold_answer), steps))
        if include_gold and problem.gold_solution is not None:
            questions.append(problem.question)
            paths.append(problem.gold_solution)
            labels.append((True, [1] * len(problem.gold_solution.steps)))
    if not paths:
        raise ValueError("no paths to train on; sample paths first (every problem had none)")
    rows = verifier.encode(questions, paths, labels)
    return Dataset.from_dict(
        {"input_ids": [r["input_ids"] for r in rows], "labels": [r["labels"] for r in rows]}
    )


class VerifierCollator:
    """Right-pads ``input_ids`` / ``labels`` rows and builds the attention mask."""

    def __init__(self, pad_id: int = 0) -> None:
        self.pad_id = pad_id

    def __call__(self, rows: Sequence[dict]) -> dict[str, torch.Tensor]:
        return pad_batch(rows, self.pad_id)


class VerifierTrainer(Trainer):
    """Trains a :class:`StepAwareVerifier` on solution CE + α·step CE.

    ``model`` is the verifier; ``args`` a :class:`VerifierTrainingConfig`. Logs the solution and
    step CE terms separately (``sol_loss``, ``step_loss``) next to ``loss``.
    """

    def __init__(self, model: StepAwareVerifier, args: VerifierTrainingConfig, **kwargs) -> None:
        if not isinstance(args, VerifierTrainingConfig):
            raise ValueError(
                f"args={type(args).__name__} is invalid; allowed: a VerifierTrainingConfig"
            )
        if not isinstance(model, StepAwareVerifier):
            raise ValueError(f"model={type(model).__name__} is invalid; allowed: StepAwareVerifier")
        kwargs.setdefault("data_collator", VerifierCollator(model.pad_id))
        super().__init__(model=model, args=args, **kwargs)
        self._terms: dict[str, list[float]] = defaultdict(list)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.get("labels")
        if labels is None:
            raise ValueError("the verifier needs 'labels' in every batch")
        out = model(
            input_ids=inputs["input_ids"],
            attention_mask=inputs.get("attention_mask"),
            labels=labels,
            alpha=self.args.alpha,
        )
        with torch.no_grad():
            self._record_terms(out["logits"], labels)
        if return_outputs:
            return out["loss"], out
        return out["loss"]

    def _record_terms(self, logits: torch.Tensor, labels: torch.Tensor) -> None:
        logp = logits.float().log_softmax(-1)
        safe = labels.clamp(min=0)
        nll = -logp.gather(-1, safe.unsqueeze(-1)).squeeze(-1)
        sol = (labels == SOL_CORRECT) | (labels == SOL_INCORRECT)
        step = (labels >= STEP_CORRECT) & (labels != IGNORE)
        if sol.any():
            self._terms["sol"].append(float(nll[sol].mean()))
        if step.any():
            self._terms["step"].append(float(nll[step].mean()))

    def log(self, logs: dict[str, float], *args, **kwargs) -> None:
        if "loss" in logs:
            for name, values in self._terms.items():
                if values:
                    logs[f"{name}_loss"] = round(sum(values) / len(values), 6)
            self._terms.clear()
        super().log(logs, *args, **kwargs)

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        output_dir = output_dir if output_dir is not None else self.args.output_dir
        if not self.args.should_save:
            return
        os.makedirs(output_dir, exist_ok=True)
        self.accelerator.unwrap_model(self.model).save_pretrained(output_dir)
        torch.save(self.args, os.path.join(output_dir, "training_args.bin"))

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        (model or self.model).load_checkpoint(resume_from_checkpoint)
