"""DSEE (Chen et al., ACL 2023): sparse-aware low-rank updates, then pruning of the final
weights or whole attention heads.

>>> model = apply_dsee(model, DSEEConfig(r=16, num_sparse=16))   # train A, B, S2 + head
>>> report = prune_dsee(model, heads_per_layer=3)                # then fine-tune again
>>> save_dsee(model, "out"); model = load_dsee(base_or_path_or_None, "out")
>>> plain = merge_dsee(model)                                    # a plain transformers model
"""

from .config import DSEEConfig
from .decompose import LowRankSparse, greedy_lowrank_sparse, select_support
from .layer import DSEELinear, slice_linear
from .model import (
    DSEEParameterReport,
    apply_dsee,
    dsee_layers,
    dsee_state,
    get_dsee_config,
    mark_trainable,
    merge_dsee,
    parameter_report,
)
from .prune import (
    PruneReport,
    attention_modules,
    head_scores,
    linear_macs,
    prune_dsee,
    prune_heads,
    prune_unstructured,
    remove_heads,
)
from .serialization import load_dsee, save_dsee

__all__ = [
    "DSEEConfig",
    "DSEELinear",
    "DSEEParameterReport",
    "LowRankSparse",
    "PruneReport",
    "apply_dsee",
    "attention_modules",
    "dsee_layers",
    "dsee_state",
    "get_dsee_config",
    "greedy_lowrank_sparse",
    "head_scores",
    "linear_macs",
    "load_dsee",
    "mark_trainable",
    "merge_dsee",
    "parameter_report",
    "prune_dsee",
    "prune_heads",
    "prune_unstructured",
    "remove_heads",
    "save_dsee",
    "select_support",
    "slice_linear",
]
