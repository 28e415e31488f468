"""LoSparse: low-rank plus structured-sparse compression for any transformers model.

W = L R + S: L, R from the top-r SVD, S = W - L R pruned by rows during training with
PLATON-style sensitivity scores on a cubic schedule (Li et al., ICML 2023).

DSEE (Chen et al., ACL 2023) lives in :mod:`lowrank_sparse.dsee`; its main entry points are
re-exported here.
"""

from .config import DEFAULT_TARGET_MODULES, LoSparseConfig, budget_config, rank_from_ratio
from .dsee import (
    DSEEConfig,
    apply_dsee,
    load_dsee,
    merge_dsee,
    parameter_report,
    prune_dsee,
    save_dsee,
)
from .layer import LoSparseLinear, svd_split
from .model import (
    apply_losparse,
    apply_low_rank_only,
    apply_prune_only,
    compact,
    load_losparse,
    losparse_layers,
    merge_losparse,
    save_pretrained,
)
from .pruner import LoSparsePruner, cubic_schedule
from .report import CompressionReport, LayerReport, compression_report

__all__ = [
    "DSEEConfig",
    "apply_dsee",
    "load_dsee",
    "merge_dsee",
    "parameter_report",
    "prune_dsee",
    "save_dsee",
    "DEFAULT_TARGET_MODULES",
    "CompressionReport",
    "LayerReport",
    "LoSparseConfig",
    "LoSparseLinear",
    "LoSparsePruner",
    "apply_losparse",
    "apply_low_rank_only",
    "apply_prune_only",
    "budget_config",
    "compact",
    "compression_report",
    "cubic_schedule",
    "load_losparse",
    "losparse_layers",
    "merge_losparse",
    "rank_from_ratio",
    "save_pretrained",
    "svd_split",
]
