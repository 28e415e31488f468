"""LoSparse configuration: which layers, how much low rank, how much of S survives, schedule."""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

from lmlab_common import ConfigBase, require, require_choice, require_range

# One regular expression (find_linear_modules requires every pattern to match something) over
# the linear layers of the common families. Embeddings, pooler, classifier and LM head are never
# listed, so they stay dense (as in the official allow/block lists).
_FAMILY_PATTERNS = (
    # BERT / RoBERTa / ELECTRA / MiniLM, DeBERTa-v2/v3
    r"attention\.self\.(query|key|value|query_proj|key_proj|value_proj)",
    r"attention\.output\.dense",
    r"layer\.\d+\.(intermediate|output)\.dense",
    # BART / Llama / Mistral / OPT
    r"(self_attn|encoder_attn|attn)\.(q_proj|k_proj|v_proj|out_proj|o_proj)",
    r"(fc1|fc2|mlp\.gate_proj|mlp\.up_proj|mlp\.down_proj)",
    # T5
    r"(SelfAttention|EncDecAttention)\.(q|k|v|o)",
    r"DenseReluDense\.(wi|wo|wi_0|wi_1)",
    # GPT-2 (Conv1D)
    r"(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)",
)
DEFAULT_TARGET_MODULES: tuple[str, ...] = (r"(.*\.)?(" + "|".join(_FAMILY_PATTERNS) + ")",)
# DSEE's default (official: the query and value projections of every self-attention), written
# in the same convention over the same families (GPT-2: the fused c_attn, as the official code).
_DSEE_PATTERNS = (
    r"attention\.self\.(query|value|query_proj|value_proj)",
    r"(self_attn|attn)\.(q_proj|v_proj)",
    r"SelfAttention\.(q|v)",
    r"attn\.c_attn",
)
DSEE_DEFAULT_TARGET_MODULES: tuple[str, ...] = (r"(.*\.)?(" + "|".join(_DSEE_PATTERNS) + ")",)
DEFAULT_EXCLUDE_MODULES: tuple[str, ...] = (
    r"(.*\.)?(pooler|classifier|lm_head|embeddings|score|qa_outputs)(\..*)?",
)

METHODS = ("losparse", "low_rank_only", "prune_only")


@dataclasses.dataclass
class LoSparseConfig(ConfigBase):
    """Configuration of LoSparse (Li et al., ICML 2023) and its two equal-budget baselines.

    Defaults are those of the official ``run_glue.py`` unless a field says otherwise.
    ``method``: ``"losparse"`` (W = LR + S, rows of S pruned), ``"low_rank_only"`` (W = LR,
    truncated SVD, no S) or ``"prune_only"`` (rank 0: rows of W itself pruned with the same
    scores and schedule).
    """

    config_name: ClassVar[str] = "losparse_config.json"

    # Default: every attention and MLP linear of BERT/DeBERTa/BART/T5/GPT-2/Llama families.
    target_modules: list[str] = dataclasses.field(
        default_factory=lambda: list(DEFAULT_TARGET_MODULES)
    )
    # Never replaced even if a target pattern matches.
    exclude_modules: list[str] = dataclasses.field(
        default_factory=lambda: list(DEFAULT_EXCLUDE_MODULES)
    )
    method: str = "losparse"
    # rho_L: rank = ceil(rho_L * d_out * d_in / (d_out + d_in)); official default 0.05.
    # "auto": per-layer rank minimising activation-weighted error (needs calibration data).
    low_rank_ratio: float | str = 0.05
    # Explicit rank for every layer (overrides low_rank_ratio).
    rank: int | None = None
    # r_f: fraction of S entries remaining at the end (official final_threshold default 0.1).
    final_sparse_ratio: float = 0.1
    # If set: fraction of the replaced matrices' parameters kept in total (LR + kept S);
    # final_sparse_ratio is then derived from the actual ranks when the model is built.
    budget: float | None = None
    # r_0: fraction of S remaining before pruning starts (official initial_threshold).
    initial_sparse_ratio: float = 1.0
    # Schedule unit W_u (official --warmup_steps, not the learning-rate warmup).
    warmup_steps: int = 6400
    # t_i, t_f in units of warmup_steps (official initial_warmup=1, final_warmup=3).
    initial_warmup: int = 1
    final_warmup: int = 3
    # Delta T: steps between EMA updates / masking events in the cubic phase (official 10).
    delta_t: int = 10
    # EMA of the importance (official 0.85) and of its uncertainty (1.0 = off, official).
    beta1: float = 0.85
    beta2: float = 1.0
    # "sensitivity" = |S * grad S| (PLATON), "magnitude" = |S|.
    importance: str = "sensitivity"
    # How the entry scores become one score per row (or column): official default "mean".
    structured_method: str = "mean"
    # "row" = output neurons of S (official default), "col" = input features.
    structured_direction: str = "row"
    # Calibration batches used by low_rank_ratio="auto" (forward passes on the given data).
    auto_rank_candidates: int = 24

    def __post_init__(self) -> None:
        if isinstance(self.target_modules, str):
            self.target_modules = [self.target_modules]
        if isinstance(self.exclude_modules, str):
            self.exclude_modules = [self.exclude_modules]
        self.target_modules = list(self.target_modules)
        self.exclude_modules = list(self.exclude_modules)
        require(
            len(self.target_modules) > 0 and all(isinstance(p, str) for p in self.target_modules),
            "target_modules",
            self.target_modules,
            "a non-empty list of module name patterns",
        )
        require_choice("method", self.method, METHODS)
        if isinstance(self.low_rank_ratio, str):
            require_choice("low_rank_ratio", self.low_rank_ratio, ["auto"])
        else:
            require_range("low_rank_ratio", self.low_rank_ratio, 0.0, 1.0, low_inclusive=False)
        require(
            self.rank is None
            or (isinstance(self.rank, int) and not isinstance(self.rank, bool) and self.rank > 0),
            "rank",
            self.rank,
            "None or an int > 0",
        )
        require_range("final_sparse_ratio", self.final_sparse_ratio, 0.0, 1.0)
        require_range(
            "initial_sparse_ratio", self.initial_sparse_ratio, 0.0, 1.0, low_inclusive=False
        )
        require(
            self.final_sparse_ratio <= self.initial_sparse_ratio,
            "final_sparse_ratio",
            self.final_sparse_ratio,
            f"<= initial_sparse_ratio={self.initial_sparse_ratio}",
        )
        if self.budget is not None:
            require_range("budget", self.budget, 0.0, 1.0, low_inclusive=False)
        for name in ("warmup_steps", "delta_t"):
            value = getattr(self, name)
            require(_is_int(value) and value >= 1, name, value, "an int >= 1")
        for name in ("initial_warmup", "final_warmup"):
            value = getattr(self, name)
            require(_is_int(value) and value >= 0, name, value, "an int >= 0")
        require_range("beta1", self.beta1, 0.0, 1.0, high_inclusive=False)
        require(
            isinstance(self.beta2, int | float) and (0.0 < self.beta2 <= 1.0),
            "beta2",
            self.beta2,
            "a number in (0, 1] (1.0 disables the uncertainty term, as the official scripts)",
        )
        require_choice("importance", self.importance, ["sensitivity", "magnitude"])
        require_choice("structured_method", self.structured_method, ["mean", "sum", "max", "min"])
        require_choice("structured_direction", self.structured_direction, ["row", "col"])
        require(
            _is_int(self.auto_rank_candidates) and self.auto_rank_candidates >= 2,
            "auto_rank_candidates",
            self.auto_rank_candidates,
            "an int >= 2",
        )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def rank_from_ratio(ratio: float, d_out: int, d_in: int) -> int:
    """The official rank formula ``ceil(ratio * d_out * d_in / (d_out + d_in))``."""
    require_range("low_rank_ratio", ratio, 0.0, 1.0, low_inclusive=False)
    return max(1, math.ceil(ratio * d_out * d_in / (d_out + d_in)))


def budget_config(
    budget: float,
    low_rank_ratio: float | str = 0.05,
    method: str = "losparse",
    **fields,
) -> LoSparseConfig:
    """A config keeping ``budget`` (fraction of the replaced matrices' parameters) in total.

    ``low_rank_ratio`` is the paper's fixed split (rho_L of the budget goes to L and R, the rest
    to the kept rows of S) or ``"auto"`` (per-layer rank chosen from calibration data). The
    final S fraction is derived from the actual ranks when the config is applied, so the total
    matches ``budget`` up to one row per model. ``method`` selects the baselines at the same
    budget: ``"low_rank_only"`` (rank per layer = budget * d_out*d_in/(d_out+d_in), rounded
    down) and ``"prune_only"`` (rows of W kept to the budget).
    """
    require_range("budget", budget, 0.0, 1.0, low_inclusive=False)
    if method == "losparse" and not isinstance(low_rank_ratio, str):
        require(
            low_rank_ratio < budget,
            "low_rank_ratio",
            low_rank_ratio,
            f"< budget={budget} (the low-rank part must leave room for S)",
        )
    return LoSparseConfig(
        budget=budget,
        low_rank_ratio=low_rank_ratio,
        method=method,
        final_sparse_ratio=0.0,
        **fields,
    )
