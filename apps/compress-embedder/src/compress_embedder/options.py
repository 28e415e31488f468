"""Settings of one compress-embedder run, validated at the boundary."""

from __future__ import annotations

import dataclasses
import os

from lmlab_common import ConfigBase, require, require_range


@dataclasses.dataclass
class CompressOptions(ConfigBase):
    """What to build and how long to train. Defaults are the `make demo` run (three distilled
    arms; sized for about 10 minutes on 2 idle cores)."""

    config_name = "options.json"

    out_dir: str = "out/compress-embedder"
    # Fraction of the encoder's 36 linear matrices' parameters kept (low-rank + kept rows of S).
    budget: float = 0.5
    # LoSparse split: rho_L of the paper (0.05, fixed) or "auto" (per-layer rank from data).
    low_rank_ratio: float | str = 0.05
    steps: int = 120  # per distilled arm (three of them)
    batch_size: int = 32
    lr: float = 2e-4
    # Weight of the layer-wise term (MSE of every layer's hidden states, padding masked).
    layer_weight: float = 0.05
    max_length: int = 48
    # Real English text from lmlab_common.english_sentences: "all" (pydoc topics + standard
    # library docstrings, 8,778 sentences), "topics" or "docstrings". The first eval_sentences
    # of the seeded stream are held out; the next train_sentences are for distillation.
    text_source: str = "all"
    train_sentences: int = 8000
    eval_sentences: int = 300
    latency_repeats: int = 10
    seed: int = 0
    overwrite: bool = False

    def __post_init__(self) -> None:
        require_range("budget", self.budget, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
        if isinstance(self.low_rank_ratio, str):
            require(
                self.low_rank_ratio == "auto",
                "low_rank_ratio",
                self.low_rank_ratio,
                "a number in (0, budget) or 'auto'",
            )
        else:
            require_range(
                "low_rank_ratio",
                self.low_rank_ratio,
                0.0,
                self.budget,
                low_inclusive=False,
                high_inclusive=False,
            )
        for name in ("steps", "batch_size", "max_length", "latency_repeats"):
            value = getattr(self, name)
            require(isinstance(value, int) and value >= 1, name, value, "an int >= 1")
        require(
            isinstance(self.eval_sentences, int) and self.eval_sentences >= 10,
            "eval_sentences",
            self.eval_sentences,
            "an int >= 10",
        )
        require(
            isinstance(self.train_sentences, int) and self.train_sentences >= self.batch_size,
            "train_sentences",
            self.train_sentences,
            f"an int >= batch_size={self.batch_size}",
        )
        require(
            self.text_source in ("all", "topics", "docstrings"),
            "text_source",
            self.text_source,
            "'all', 'topics' or 'docstrings'",
        )
        require_range("lr", self.lr, 0.0, None, low_inclusive=False)
        require_range("layer_weight", self.layer_weight, 0.0, None)
        require(isinstance(self.seed, int) and self.seed >= 0, "seed", self.seed, "an int >= 0")

    def check_out_dir(self) -> None:
        """Refuse an existing non-empty output folder unless ``overwrite``."""
        if os.path.isdir(self.out_dir) and os.listdir(self.out_dir) and not self.overwrite:
            raise FileExistsError(
                f"out_dir={self.out_dir!r} exists and is not empty; allowed: a new or empty "
                "folder, or pass --overwrite to replace its contents"
            )
        if os.path.exists(self.out_dir) and not os.path.isdir(self.out_dir):
            raise FileExistsError(f"out_dir={self.out_dir!r} is a file; allowed: a folder")


def quick_options(**changes) -> CompressOptions:
    """A small run for tests and smoke checks (25% budget, three 20-step distillations)."""
    fields = dict(
        budget=0.25,
        steps=20,
        batch_size=16,
        train_sentences=480,
        eval_sentences=100,
        max_length=32,
        latency_repeats=2,
    )
    fields.update(changes)
    return CompressOptions(**fields)
