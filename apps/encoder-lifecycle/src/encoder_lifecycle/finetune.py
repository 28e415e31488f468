"""Stage 2: fine-tune each pre-trained encoder (and a random one, the floor) on the task."""

from __future__ import annotations

import copy
import tempfile
import time

import torch
from task_distill import PadCollator
from transformers import Trainer, TrainingArguments
from transformers.trainer_callback import PrinterCallback

from .classifier import MeanPoolDebertaClassifier
from .options import LifecycleOptions


def task_dataset(texts: list[str], labels: list[int], tokenizer, max_length: int) -> list[dict]:
    """Rows ``{"input_ids": [CLS] sentence [SEP] (truncated), "labels": int}``."""
    ids = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    return [{"input_ids": row, "labels": y} for row, y in zip(ids, labels, strict=True)]


def train_args(
    output_dir: str, steps: int, options: LifecycleOptions, cls=TrainingArguments, **extra
):
    """AdamW, linear decay with 10% warm-up, clip 1, seeded batches, no checkpoints."""
    return cls(
        output_dir=output_dir,
        max_steps=steps,
        per_device_train_batch_size=options.batch_size,
        learning_rate=options.finetune_lr,
        weight_decay=0.01,
        warmup_steps=max(1, steps // 10),
        lr_scheduler_type="linear",
        max_grad_norm=1.0,
        logging_steps=max(1, steps // 5),
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
        seed=options.seed,
        data_seed=options.seed,
        **extra,
    )


def quiet(trainer: Trainer) -> Trainer:
    """Drop the callback that prints every log dict (the run logs its own summary)."""
    trainer.remove_callback(PrinterCallback)
    return trainer


@torch.no_grad()
def predict(model, data: list[dict], pad_id: int, batch_size: int = 64) -> torch.Tensor:
    """Logits ``(N, num_labels)`` of ``model`` on every row of ``data``, in order."""
    model.eval()
    collate = PadCollator(pad_id)
    out = []
    for i in range(0, len(data), batch_size):
        batch = collate([data[j] for j in range(i, min(i + batch_size, len(data)))])
        batch.pop("labels", None)
        out.append(model(**batch).logits.float())
    return torch.cat(out)


def accuracy(logits: torch.Tensor, labels: list[int]) -> float:
    return float((logits.argmax(-1) == torch.as_tensor(labels)).float().mean())


def classifier(source: str | None, config, num_labels: int, seed: int):
    """A mean-pooling sequence classifier (:class:`MeanPoolDebertaClassifier`) on the encoder
    of a pre-trained folder, or randomly initialised (``None``)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        if source is None:
            config = copy.deepcopy(config)
            config.num_labels = num_labels  # also sets id2label / label2id
            return MeanPoolDebertaClassifier(config)
        return MeanPoolDebertaClassifier.from_pretrained(source, num_labels=num_labels)


def fine_tune(model, train: list[dict], pad_id: int, options: LifecycleOptions) -> tuple:
    """Train ``model`` in place; returns ``(model, seconds, final training loss)``."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(
            model=model,
            args=train_args(tmp, options.finetune_steps, options),
            train_dataset=train,
            data_collator=PadCollator(pad_id),
        )
        quiet(trainer).train()
        losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return model.eval(), time.perf_counter() - start, (losses[-1] if losses else None)
