"""``GrillProcessor``: images (pillow) → tensors, texts ↔ token ids, boxes ↔ grid cells."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import numpy as np
import torch
from lmlab_common import atomic_write_json, require, require_int, train_tokenizer
from PIL import Image
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from .boxes import Box, box_to_cells, box_to_location, check_box

PROCESSOR_FILE = "grill_processor.json"
PROMPT_WORDS = "question : answer an image of ground [MASK]"


def location_word(index: int) -> str:
    return f"loc{index}"


class GrillProcessor:
    """Turns pillow images, prompts, phrases and boxes into model inputs.

    Images of any mode and size are converted to RGB and resized to ``image_size`` (boxes are
    given in the original image's pixels and scaled accordingly).
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        image_size: int = 64,
        grid: int = 8,
        max_text_length: int = 32,
    ):
        require_int("image_size", image_size, low=grid)
        require_int("max_text_length", max_text_length, low=4)
        missing = [
            w
            for w in (location_word(0), location_word(grid * grid - 1))
            if w not in tokenizer.get_vocab()
        ]
        require(
            not missing,
            "tokenizer",
            f"<vocab without {missing}>",
            "a tokenizer with the location words (build it with GrillProcessor.from_texts)",
        )
        self.tokenizer = tokenizer
        self.image_size = image_size
        self.grid = grid
        self.max_text_length = max_text_length

    @classmethod
    def from_texts(
        cls, texts: Sequence[str], image_size: int = 64, grid: int = 8, max_text_length: int = 32
    ) -> GrillProcessor:
        """Train a word-level tokenizer on ``texts`` plus the prompt and location words."""
        locations = " ".join(location_word(i) for i in range(grid * grid))
        tokenizer = train_tokenizer(
            [*texts, PROMPT_WORDS, locations], kind="wordlevel", vocab_size=100_000, wrap="eos"
        )
        return cls(tokenizer, image_size, grid, max_text_length)

    # --- images ---------------------------------------------------------------------------

    def images(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """(B, 3, S, S) pixel values in [-1, 1] from pillow images of any mode and size."""
        arrays = []
        for i, image in enumerate(images):
            if not isinstance(image, Image.Image):
                raise ValueError(
                    f"images[{i}]={type(image).__name__} is invalid; allowed: a "
                    "PIL.Image.Image (open files with PIL.Image.open)"
                )
            rgb = image.convert("RGB")
            if rgb.size != (self.image_size, self.image_size):
                rgb = rgb.resize((self.image_size, self.image_size), Image.Resampling.BILINEAR)
            arrays.append(np.asarray(rgb, dtype=np.float32))
        pixels = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
        return pixels / 127.5 - 1.0

    def scale_box(self, box: Sequence[float], size: tuple[int, int], where: str = "box") -> Box:
        """An original-pixel box (clipped, validated) → model-image pixels."""
        width, height = size
        x0, y0, x1, y1 = check_box(box, width, height, where)
        sx, sy = self.image_size / width, self.image_size / height
        return (x0 * sx, y0 * sy, x1 * sx, y1 * sy)

    def box_cells(self, box: Box) -> torch.Tensor:
        """(grid*grid,) bool mask of the cells a model-image box covers."""
        return box_to_cells(box, self.image_size, self.image_size, self.grid)

    def box_words(self, box: Box) -> str:
        first, last = box_to_location(box, self.image_size, self.image_size, self.grid)
        return f"{location_word(first)} {location_word(last)}"

    # --- text -----------------------------------------------------------------------------

    def text(
        self, texts: Sequence[str], strict: bool = False, field: str = "texts"
    ) -> dict[str, torch.Tensor]:
        """Right-padded (B, T) ``input_ids`` / ``attention_mask`` (eos appended).

        ``strict``: a text longer than ``max_text_length`` is an error naming its index
        (inference); otherwise it is truncated (training).
        """
        if strict:
            for i, t in enumerate(texts):
                n = len(self.tokenizer(t)["input_ids"])
                require(
                    n <= self.max_text_length,
                    f"{field}[{i}]",
                    t,
                    f"at most {self.max_text_length} tokens (it has {n})",
                )
        enc = self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self.max_text_length,
            return_tensors="pt",
        )
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}

    def labels(self, targets: Sequence[str]) -> torch.Tensor:
        """(B, T) target ids with padding set to -100."""
        enc = self.text(targets)
        return enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)

    def decode(self, ids: torch.Tensor) -> list[str]:
        return [t.strip() for t in self.tokenizer.batch_decode(ids, skip_special_tokens=True)]

    # --- save / load ----------------------------------------------------------------------

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        self.tokenizer.save_pretrained(directory)
        atomic_write_json(
            os.path.join(directory, PROCESSOR_FILE),
            {
                "image_size": self.image_size,
                "grid": self.grid,
                "max_text_length": self.max_text_length,
            },
        )

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> GrillProcessor:
        path = os.path.join(directory, PROCESSOR_FILE)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no {PROCESSOR_FILE} in {os.fspath(directory)!r}")
        with open(path, encoding="utf-8") as fh:
            settings = json.load(fh)
        return cls(AutoTokenizer.from_pretrained(directory), **settings)
