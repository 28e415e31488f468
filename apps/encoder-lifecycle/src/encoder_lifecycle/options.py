"""Settings of one encoder-lifecycle run, validated at the boundary."""

from __future__ import annotations

import dataclasses
import os

from lmlab_common import ConfigBase, require, require_int, require_range


@dataclasses.dataclass
class LifecycleOptions(ConfigBase):
    """What to build and how long to train. Defaults: the full run (about 15 min, 2 cores)."""

    config_name = "options.json"

    out_dir: str = "out/encoder-lifecycle"
    # Encoder: DeBERTaV3-style (relative attention, shared attention keys, no absolute positions).
    hidden_size: int = 64
    num_layers: int = 4
    num_heads: int = 4
    vocab_size: int = 6000
    # Pre-training text: this many sentences of lmlab_common.english_sentences(source="all"),
    # minus the held-out classification sentences (None: all of them).
    corpus_sentences: int | None = None
    block_size: int = 64
    rtd_steps: int = 200
    # MLM-only steps = rtd_steps * this: an RTD step runs a half-depth generator plus the
    # full discriminator, i.e. about 1.5 times the layers of one MLM step (equal compute).
    mlm_compute_ratio: float = 1.5
    pretrain_batch_size: int = 32
    pretrain_lr: float = 1e-3
    finetune_steps: int = 300
    distill_steps: int = 150
    filter_steps: int = 40
    batch_size: int = 32
    finetune_lr: float = 5e-4
    max_length: int = 64
    # LoSparse student keeps this fraction of the encoder's linear parameters (0.5: about the
    # encoder linear parameters of the half-depth student, so the two students are comparable).
    budget: float = 0.5
    low_rank_ratio: float = 0.05
    latency_repeats: int = 10
    seed: int = 0
    overwrite: bool = False

    def __post_init__(self) -> None:
        require_range("budget", self.budget, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
        require_range(
            "low_rank_ratio",
            self.low_rank_ratio,
            0.0,
            self.budget,
            low_inclusive=False,
            high_inclusive=False,
        )
        for name in (
            "hidden_size",
            "num_heads",
            "rtd_steps",
            "finetune_steps",
            "distill_steps",
            "filter_steps",
            "batch_size",
            "pretrain_batch_size",
            "latency_repeats",
        ):
            require_int(name, getattr(self, name), 1)
        require_int("num_layers", self.num_layers, 2)
        require(
            self.num_layers % 2 == 0,
            "num_layers",
            self.num_layers,
            "an even int >= 2 (the half-depth student keeps every second layer)",
        )
        require(
            self.hidden_size % self.num_heads == 0,
            "hidden_size",
            self.hidden_size,
            f"a multiple of num_heads={self.num_heads}",
        )
        require_int("vocab_size", self.vocab_size, 100)
        require_int("block_size", self.block_size, 16, 512)
        require_int("max_length", self.max_length, 8, 512)
        if self.corpus_sentences is not None:
            require_int("corpus_sentences", self.corpus_sentences, 1)
        require_range("mlm_compute_ratio", self.mlm_compute_ratio, 0.0, low_inclusive=False)
        require_range("pretrain_lr", self.pretrain_lr, 0.0, low_inclusive=False)
        require_range("finetune_lr", self.finetune_lr, 0.0, low_inclusive=False)
        require_int("seed", self.seed, 0)
        # Schedule units of the LoSparse pruner need room: warm-up 1 + final 3 units of 10%.
        require_int("distill_steps", self.distill_steps, 20)

    @property
    def mlm_steps(self) -> int:
        return max(1, round(self.rtd_steps * self.mlm_compute_ratio))

    def settings(self) -> dict:
        """The fields that change results (a resumed run must use the same ones)."""
        return {k: v for k, v in self.to_dict().items() if k not in ("out_dir", "overwrite")}

    def check_out_dir(self) -> None:
        """The parent of ``out_dir`` must exist; ``out_dir`` itself must be a folder or new."""
        parent = os.path.dirname(os.path.abspath(self.out_dir))
        if not os.path.isdir(parent):
            raise FileNotFoundError(
                f"out_dir={self.out_dir!r} is invalid: its parent folder {parent!r} does not "
                "exist; allowed: a path whose parent folder exists"
            )
        if os.path.exists(self.out_dir) and not os.path.isdir(self.out_dir):
            raise FileExistsError(f"out_dir={self.out_dir!r} is a file; allowed: a folder")


def quick_options(**changes) -> LifecycleOptions:
    """A small run for CI and smoke checks (about 2 minutes on an idle 2-core machine)."""
    fields = dict(
        hidden_size=64,
        num_layers=2,
        num_heads=2,
        vocab_size=2000,
        corpus_sentences=800,
        rtd_steps=30,
        pretrain_batch_size=16,
        finetune_steps=150,
        finetune_lr=1e-3,
        distill_steps=24,
        filter_steps=10,
        batch_size=16,
        max_length=40,
        latency_repeats=3,
    )
    fields.update(changes)
    return LifecycleOptions(**fields)
