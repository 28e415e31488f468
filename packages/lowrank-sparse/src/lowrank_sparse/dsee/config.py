"""DSEE configuration: which layers get sparse-aware low-rank updates, and how.

Defaults follow the official DSEE code (VITA-Group/DSEE, ``non-GPT-2``): adapters on the
query and value projections only, GreBsmo-chosen support for the sparse update, LoRA scale
``lora_alpha / r``. Where the released scripts and the code defaults differ, the field help
says which one is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from lmlab_common import ConfigBase, require, require_choice, require_range

from ..config import DEFAULT_EXCLUDE_MODULES, DSEE_DEFAULT_TARGET_MODULES

SPARSE_METHODS = ("grebsmo", "magnitude", "random")
PRUNE_SCORES = ("final", "delta", "weight", "wabs_official")
HEAD_SCORES = ("delta", "final")


@dataclass
class DSEEConfig(ConfigBase):
    """How :func:`apply_dsee` adapts a model.

    Per adapted matrix ``W`` (``d_out x d_in``, frozen) the layer computes
    ``y = (W + s * B @ A + s * S2) x + b`` with ``s = lora_alpha / r``, ``A`` (``r x d_in``)
    random, ``B`` (``d_out x r``) zero and ``S2`` non-zero only on ``num_sparse`` positions
    chosen from the pretrained ``W`` (values start at zero and are learned).
    """

    config_name: ClassVar[str] = "dsee_config.json"

    #: Module-name patterns to adapt (exact name, dotted suffix or regex; the same convention
    #: as LoSparseConfig). Default: the query and value projections of every self-attention of
    #: the BERT/DeBERTa, BART/Llama, T5 and GPT-2 families, as the official code (key is
    #: commented out there).
    target_modules: list[str] = field(default_factory=lambda: list(DSEE_DEFAULT_TARGET_MODULES))
    #: Patterns never adapted even if matched (default: pooler, classifier, heads, embeddings,
    #: as LoSparseConfig).
    exclude_modules: list[str] = field(default_factory=lambda: list(DEFAULT_EXCLUDE_MODULES))
    #: LoRA rank. Official scripts: 16 (code default 4).
    r: int = 16
    #: LoRA alpha; the update is scaled by ``lora_alpha / r``. Official: 32.
    lora_alpha: float = 32.0
    #: Std of the Gaussian init of ``A`` (official: ``normal_(std=0.02)``); ``B`` starts at 0.
    lora_init_std: float = 0.02
    #: Number N of sparse-update positions per matrix. Official scripts: 16 (code default 64/128).
    num_sparse: int = 16
    #: How the N positions are chosen: "grebsmo" (official default: top-N of the sparse part
    #: of a greedy low-rank + sparse decomposition of the pretrained W), "magnitude" (top-N of
    #: |W|, the official "omp" branch) or "random" (the official "rp" branch).
    sparse_method: str = "grebsmo"
    #: GreBsmo outer iterations (official: 100); the rank grows by ``grebsmo_rank_step`` each.
    grebsmo_iters: int = 100
    #: Rank added per GreBsmo outer iteration (official: 5).
    grebsmo_rank_step: int = 5
    #: Inner alternating steps per outer iteration (official: 2).
    grebsmo_inner_iters: int = 2
    #: Entries of the sparse part with |S| below this are zeroed (official: 0.01).
    grebsmo_threshold: float = 0.01
    #: Cap on the GreBsmo rank as a fraction of min(d_out, d_in). The official loop reaches rank
    #: 501 of 768 on BERT-base (0.65); uncapped on a 384-wide model it would reach full rank and
    #: leave nothing sparse, so the cap keeps the official proportion on any width.
    grebsmo_max_rank_ratio: float = 0.65
    #: Also train biases of the adapted layers (official: no).
    train_bias: bool = False
    #: Extra trainable parameter-name patterns (regex, searched) besides the adapters, e.g. the
    #: task head. ``None``: the head is detected (parameters outside the base model's backbone).
    trainable_patterns: list[str] | None = None
    #: Seed for A's init and the random/GreBsmo starting vectors.
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.target_modules, str):
            self.target_modules = [self.target_modules]
        if isinstance(self.exclude_modules, str):
            self.exclude_modules = [self.exclude_modules]
        require(
            isinstance(self.target_modules, list | tuple)
            and len(self.target_modules) > 0
            and all(isinstance(p, str) and p for p in self.target_modules),
            "target_modules",
            self.target_modules,
            "a non-empty list of module-name patterns",
        )
        self.target_modules = list(self.target_modules)
        require(
            isinstance(self.exclude_modules, list | tuple)
            and all(isinstance(p, str) for p in self.exclude_modules),
            "exclude_modules",
            self.exclude_modules,
            "a list of module-name patterns",
        )
        self.exclude_modules = list(self.exclude_modules)
        require(_is_int(self.r) and self.r >= 1, "r", self.r, "an int >= 1")
        require_range("lora_alpha", self.lora_alpha, 0.0, None, low_inclusive=False)
        require_range("lora_init_std", self.lora_init_std, 0.0, None, low_inclusive=False)
        require(
            _is_int(self.num_sparse) and self.num_sparse >= 0,
            "num_sparse",
            self.num_sparse,
            "an int >= 0 (0 disables the sparse update)",
        )
        require_choice("sparse_method", self.sparse_method, SPARSE_METHODS)
        for name in ("grebsmo_iters", "grebsmo_rank_step", "grebsmo_inner_iters"):
            value = getattr(self, name)
            require(_is_int(value) and value >= 1, name, value, "an int >= 1")
        require_range("grebsmo_threshold", self.grebsmo_threshold, 0.0, None)
        require_range(
            "grebsmo_max_rank_ratio", self.grebsmo_max_rank_ratio, 0.0, 1.0, low_inclusive=False
        )
        require(isinstance(self.train_bias, bool), "train_bias", self.train_bias, "a bool")
        require(
            self.trainable_patterns is None
            or (
                isinstance(self.trainable_patterns, list | tuple)
                and all(isinstance(p, str) and p for p in self.trainable_patterns)
            ),
            "trainable_patterns",
            self.trainable_patterns,
            "None or a list of regexes",
        )
        if self.trainable_patterns is not None:
            self.trainable_patterns = list(self.trainable_patterns)
        require(_is_int(self.seed), "seed", self.seed, "an int")

    @property
    def scale(self) -> float:
        """The update scale ``lora_alpha / r``."""
        return float(self.lora_alpha) / self.r


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
