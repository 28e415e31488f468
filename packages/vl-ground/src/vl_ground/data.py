"""Examples (image + caption + grounded phrases + QA pairs), JSONL storage and the collator
that turns a batch of examples into the multi-task rows ``GrillModel.forward`` takes.

An example is a dict: ``{"image": PIL.Image, "caption": str, "expressions": [{"text": str,
"box": [x0, y0, x1, y1]}], "questions": [{"question": str, "answer": str}]}``; every text
field is optional. Boxes are absolute pixels of the original image.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Sequence
from typing import Any

import torch
from lmlab_common import atomic_write_text, require
from PIL import Image

from .config import OBJECTIVES
from .processor import GrillProcessor
from .scenes import Scene


def scene_to_example(scene: Scene) -> dict[str, Any]:
    return {
        "image": scene.image,
        "caption": scene.caption,
        "expressions": [
            {"text": t, "box": list(scene.objects[i].box)} for t, i in scene.expressions
        ],
        "questions": [{"question": q, "answer": a} for q, a in scene.questions],
    }


def save_examples(examples: Sequence[dict[str, Any]], directory: str) -> str:
    """Write ``images/NNNNNN.png`` and ``examples.jsonl`` (image paths relative)."""
    os.makedirs(os.path.join(directory, "images"), exist_ok=True)
    lines = []
    for i, ex in enumerate(examples):
        name = os.path.join("images", f"{i:06d}.png")
        path = os.path.join(directory, name)
        if not os.path.exists(path):
            ex["image"].save(path + ".tmp.png")
            os.replace(path + ".tmp.png", path)
        lines.append(json.dumps({**{k: v for k, v in ex.items() if k != "image"}, "image": name}))
    out = os.path.join(directory, "examples.jsonl")
    atomic_write_text(out, "\n".join(lines) + "\n")
    return out


def load_examples(path: str) -> list[dict[str, Any]]:
    """Read an ``examples.jsonl`` (or the folder holding it); images open lazily as PIL."""
    if os.path.isdir(path):
        path = os.path.join(path, "examples.jsonl")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no examples file at {path!r}")
    base = os.path.dirname(os.path.abspath(path))
    out = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                ex = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{n}: not a JSON line ({err.msg})") from None
            require("image" in ex, f"{path}:{n}", sorted(ex), "a record with an 'image' path")
            ex["image"] = Image.open(os.path.join(base, ex["image"]))
            out.append(ex)
    require(bool(out), "path", path, "a file with at least one example")
    return out


class GrillCollator:
    """Batch of examples → pixel values + text rows + one alignment row per image that has a
    grounded phrase (``align_contrastive`` on).

    ``text_rows_per_image``: how many of the enabled text objectives (caption, span, vqa,
    align_tokens) each image gets per batch, drawn by a seeded RNG (1 = a task mixture, the
    cheapest; ``None`` = all of them).
    """

    def __init__(
        self,
        processor: GrillProcessor,
        objectives: Sequence[str],
        span_mask_fraction: float = 0.3,
        seed: int = 0,
        text_rows_per_image: int | None = 1,
    ):
        self.processor = processor
        self.objectives = tuple(objectives)
        self.span_mask_fraction = span_mask_fraction
        self.text_rows_per_image = text_rows_per_image
        self.seed = seed
        self.rng = random.Random(seed)

    def _text_row(self, kind: str, ex: dict[str, Any], box_of, rng) -> tuple[str, str] | None:
        if kind == "caption" and ex.get("caption"):
            return "an image of", ex["caption"]
        if kind == "span" and ex.get("caption"):
            words = ex["caption"].split()
            n = max(1, round(len(words) * self.span_mask_fraction))
            start = rng.randrange(0, len(words) - n + 1)
            masked = [*words[:start], "[MASK]", *words[start + n :]]
            return " ".join(masked), " ".join(words[start : start + n])
        if kind == "vqa" and ex.get("questions"):
            qa = rng.choice(ex["questions"])
            return f"question : {qa['question']} answer :", qa["answer"]
        if kind == "align_tokens" and ex.get("expressions"):
            phrase = rng.choice(ex["expressions"])
            return f"ground : {phrase['text']}", self.processor.box_words(box_of(phrase))
        return None

    def __call__(self, examples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        proc = self.processor
        images = [ex["image"] for ex in examples]
        batch: dict[str, torch.Tensor] = {"pixel_values": proc.images(images)}
        rows, targets, row_image, row_kind = [], [], [], []
        phrases, align_image, cells = [], [], []
        for i, ex in enumerate(examples):
            size = ex["image"].size
            # Examples from ExampleDataset carry their index: their draws then depend only on
            # (seed, index), so a run resumed from a checkpoint sees the same batches.
            rng = random.Random(f"{self.seed}-{ex['_index']}") if "_index" in ex else self.rng

            def box_of(phrase, size=size, i=i):
                return proc.scale_box(phrase["box"], size, f"examples[{i}].box")

            if "align_contrastive" in self.objectives and ex.get("expressions"):
                phrase = rng.choice(ex["expressions"])
                phrases.append(phrase["text"])
                align_image.append(i)
                cells.append(proc.box_cells(box_of(phrase)))
            kinds = [k for k in self.objectives if k != "align_contrastive"]
            if self.text_rows_per_image is not None and len(kinds) > self.text_rows_per_image:
                kinds = rng.sample(kinds, self.text_rows_per_image)
            for kind in kinds:
                row = self._text_row(kind, ex, box_of, rng)
                if row:
                    rows.append(row[0])
                    targets.append(row[1])
                    row_image.append(i)
                    row_kind.append(OBJECTIVES.index(kind))
        if rows:
            batch.update(proc.text(rows))
            batch["labels"] = proc.labels(targets)
            batch["text_image"] = torch.tensor(row_image)
            batch["text_kind"] = torch.tensor(row_kind)
        if phrases:
            enc = proc.text(phrases)
            batch["phrase_ids"], batch["phrase_mask"] = enc["input_ids"], enc["attention_mask"]
            batch["align_image"] = torch.tensor(align_image)
            batch["target_cells"] = torch.stack(cells)
        return batch
