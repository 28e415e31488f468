"""Batched zero-/few-shot inference: ``vqa``, ``caption``, ``ground``; few-shot fine-tuning."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Sequence
from typing import Any

import torch
from lmlab_common import progress, require, require_choice, require_int
from PIL import Image

from .boxes import Box, decode_region, location_to_box, region_to_box
from .config import GrillTrainingArguments
from .model import GrillModel
from .processor import GrillProcessor

TASKS = ("vqa", "caption", "ground")


@dataclasses.dataclass
class Grounding:
    """One grounded expression: an absolute xyxy ``box`` in the original image (None when the
    model's output was malformed), its ``score`` and the expression as ``text_label``."""

    box: Box | None
    score: float
    text_label: str


def _batches(n: int, batch_size: int, desc: str, disable: bool | None):
    require_int("batch_size", batch_size, low=1)
    return progress(range(0, n, batch_size), desc=desc, disable=disable)


def _check_pairs(images: Sequence[Image.Image], texts: Sequence[str], field: str) -> None:
    require(
        len(images) == len(texts), field, f"<{len(texts)} items>", f"one per image ({len(images)})"
    )


@torch.no_grad()
def _generate(model, processor, images, prompts, max_new_tokens, batch_size, desc, disable):
    model.eval()
    out: list[str] = []
    for start in _batches(len(images), batch_size, desc, disable):
        pixels = processor.images(images[start : start + batch_size])
        enc = processor.text(prompts[start : start + batch_size], strict=True, field="prompts")
        ids = model.generate_text(pixels, enc["input_ids"], enc["attention_mask"], max_new_tokens)
        out += processor.decode(ids)
    return out


def vqa(
    model: GrillModel,
    processor: GrillProcessor,
    images: Sequence[Image.Image],
    questions: Sequence[str],
    batch_size: int = 64,
    max_new_tokens: int = 4,
    disable_progress: bool | None = None,
) -> list[str]:
    """Answer one question per image, batched (prompt ``question : Q answer :``)."""
    _check_pairs(images, questions, "questions")
    prompts = [f"question : {q} answer :" for q in questions]
    return _generate(
        model, processor, list(images), prompts, max_new_tokens, batch_size, "vqa", disable_progress
    )


def caption(
    model: GrillModel,
    processor: GrillProcessor,
    images: Sequence[Image.Image],
    batch_size: int = 64,
    max_new_tokens: int = 24,
    disable_progress: bool | None = None,
) -> list[str]:
    """Caption each image, batched (prompt ``an image of``)."""
    prompts = ["an image of"] * len(images)
    return _generate(
        model,
        processor,
        list(images),
        prompts,
        max_new_tokens,
        batch_size,
        "caption",
        disable_progress,
    )


@torch.no_grad()
def ground(
    model: GrillModel,
    processor: GrillProcessor,
    images: Sequence[Image.Image],
    expressions: Sequence[str],
    method: str = "pointer",
    batch_size: int = 64,
    disable_progress: bool | None = None,
) -> list[Grounding]:
    """Box of the object each expression refers to, in the original image's pixels.

    ``method="pointer"`` scores every patch against the phrase (the alignment head) and decodes
    the best-scoring region; ``"tokens"`` generates two location words (KOSMOS-2 style).
    """
    require_choice("method", method, ("pointer", "tokens"))
    _check_pairs(images, expressions, "expressions")
    model.eval()
    grid, side = processor.grid, processor.image_size
    results: list[Grounding] = []
    for start in _batches(len(images), batch_size, "ground", disable_progress):
        chunk = list(images[start : start + batch_size])
        texts = list(expressions[start : start + batch_size])
        pixels = processor.images(chunk)
        boxes: list[tuple[Box | None, float]] = []
        if method == "pointer":
            enc = processor.text(texts, strict=True, field="expressions")
            scores = model.align_scores(
                model.patch_states(pixels), enc["input_ids"], enc["attention_mask"]
            )
            for row in scores:
                region, mass = decode_region(row, grid)
                boxes.append((region_to_box(region, side, side, grid), mass))
        else:
            prompts = [f"ground : {t}" for t in texts]
            enc = processor.text(prompts, strict=True, field="expressions")
            ids = model.generate_text(pixels, enc["input_ids"], enc["attention_mask"], 3)
            for words in processor.decode(ids):
                parts = [w[3:] for w in words.split() if w.startswith("loc") and w[3:].isdigit()]
                box = None
                if len(parts) >= 2:
                    box = location_to_box(int(parts[0]), int(parts[1]), side, side, grid)
                boxes.append((box, 1.0 if box else 0.0))
        for image, text, (box, score) in zip(chunk, texts, boxes, strict=True):
            if box is not None:
                sx, sy = image.size[0] / side, image.size[1] / side
                box = (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)
            results.append(Grounding(box, float(score), text))
    return results


def predict(
    model: GrillModel,
    processor: GrillProcessor,
    task: str,
    images: Sequence[Image.Image],
    texts: Sequence[str] | None = None,
    **kwargs: Any,
) -> list:
    """Dispatch on ``task`` ∈ {vqa, caption, ground}; an unknown task is an error."""
    require_choice("task", task, TASKS)
    if task == "caption":
        return caption(model, processor, images, **kwargs)
    require(texts is not None, "texts", texts, f"questions or expressions for task={task!r}")
    fn = vqa if task == "vqa" else ground
    return fn(model, processor, images, texts, **kwargs)


TASK_OBJECTIVE = {"vqa": "vqa", "caption": "caption", "ground": "align_contrastive"}


def few_shot_finetune(
    model: GrillModel,
    processor: GrillProcessor,
    examples: Sequence[dict],
    task: str,
    steps: int = 30,
    learning_rate: float = 3e-4,
    batch_size: int = 8,
    seed: int = 0,
) -> GrillModel:
    """Fine-tune ``model`` in place on a few (16–32) examples of one task, FewVLM style."""
    from .trainer import GrillTrainer

    require_choice("task", task, TASKS)
    require_int("steps", steps, low=1)
    with tempfile.TemporaryDirectory() as tmp:
        args = GrillTrainingArguments(
            output_dir=tmp,
            objectives=(TASK_OBJECTIVE[task],),
            max_steps=steps,
            per_device_train_batch_size=batch_size,
            learning_rate=learning_rate,
            save_strategy="no",
            report_to=[],
            logging_strategy="no",
            use_cpu=True,
            seed=seed,
            disable_tqdm=True,
        )
        GrillTrainer(model, args, processor, train_dataset=list(examples)).train()
    return model.eval()
