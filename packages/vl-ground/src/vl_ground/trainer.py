"""``GrillTrainer``: a ``Trainer`` over examples that logs each objective's loss."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import torch
from transformers import Trainer

from .config import GrillTrainingArguments
from .data import GrillCollator
from .model import GrillModel
from .processor import GrillProcessor


class ExampleDataset(torch.utils.data.Dataset):
    """A list of example dicts as a map-style dataset (the collator does the work)."""

    def __init__(self, examples: Sequence[dict[str, Any]]):
        if not examples:
            raise ValueError("train_dataset=<empty> is invalid; allowed: at least one example")
        self.examples = list(examples)

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {**self.examples[index], "_index": index}


class GrillTrainer(Trainer):
    """Pre-trains (or few-shot fine-tunes) a ``GrillModel`` on example dicts.

    ``args.objectives`` picks the losses; each objective's running mean is logged as
    ``<objective>_loss`` beside ``loss``.
    """

    def __init__(
        self,
        model: GrillModel,
        args: GrillTrainingArguments,
        processor: GrillProcessor,
        train_dataset=None,
        eval_dataset=None,
        **kwargs: Any,
    ):
        if not isinstance(args, GrillTrainingArguments):
            raise ValueError(
                f"args={type(args).__name__} is invalid; allowed: GrillTrainingArguments"
            )
        if train_dataset is not None and not isinstance(train_dataset, torch.utils.data.Dataset):
            train_dataset = ExampleDataset(train_dataset)
        if eval_dataset is not None and not isinstance(eval_dataset, torch.utils.data.Dataset):
            eval_dataset = ExampleDataset(eval_dataset)
        collator = kwargs.pop("data_collator", None) or GrillCollator(
            processor,
            args.objectives,
            args.span_mask_fraction,
            seed=args.seed,
            text_rows_per_image=args.text_rows_per_image or None,
        )
        super().__init__(
            model=model,
            args=args,
            train_dataset=train_dataset,
            eval_dataset=eval_dataset,
            data_collator=collator,
            **kwargs,
        )
        self.processor = processor
        self._parts: dict[str, list[float]] = defaultdict(list)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        outputs = model(
            **inputs, align_weight=self.args.align_weight, extent_weight=self.args.extent_weight
        )
        for name in ("caption", "span", "vqa", "align_tokens", "align_contrastive"):
            value = getattr(outputs, f"{name}_loss")
            if value is not None:
                self._parts[f"{name}_loss"].append(float(value))
        return (outputs.loss, outputs) if return_outputs else outputs.loss

    def log(self, logs: dict[str, float], *args: Any, **kwargs: Any) -> None:
        for name, values in self._parts.items():
            logs[name] = round(sum(values) / len(values), 4)
        self._parts.clear()
        super().log(logs, *args, **kwargs)

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        """Resume through ``from_pretrained``, strictly.

        ``Trainer`` resumes with a raw, non-strict ``load_state_dict`` of ``model.safetensors``;
        transformers 5 writes the ViT's weights under its legacy key names, so that load
        silently skipped the whole vision tower (found by comparing an interrupted-and-resumed
        run with an uninterrupted one). ``from_pretrained`` maps the names back.
        """
        target = self.accelerator.unwrap_model(model if model is not None else self.model)
        loaded = type(target).from_pretrained(resume_from_checkpoint)
        target.load_state_dict(loaded.state_dict(), strict=True)

    def _save(self, output_dir: str | None = None, state_dict=None) -> None:
        super()._save(output_dir, state_dict)
        if self.args.should_save:
            self.processor.save_pretrained(output_dir or self.args.output_dir)
