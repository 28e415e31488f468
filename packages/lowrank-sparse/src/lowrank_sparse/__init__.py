"""lowrank-sparse: LoSparse and DSEE for any transformers model.

LoSparse (Li et al., ICML 2023): W = L R + S, L and R from the top-r SVD, S = W - L R pruned by
rows during training with PLATON-style sensitivity scores on a cubic schedule.
DSEE (Chen et al., ACL 2023): sparse-aware low-rank updates of a frozen model, then pruning of
the final weights or whole heads; it lives in :mod:`lowrank_sparse.dsee`, and its main entry
points are re-exported here. Both methods share one shape: ``apply_*``, ``save_*``/``load_*``
(base model, path or ``None``), ``merge_*``, and one state object on the model.
"""

from .apply import (
    apply_losparse,
    apply_low_rank_only,
    apply_prune_only,
    compact,
    losparse_config,
    losparse_layers,
    merge_losparse,
)
from .checkpoint import CheckpointCallback
from .config import (
    DEFAULT_TARGET_MODULES,
    DSEE_DEFAULT_TARGET_MODULES,
    LoSparseConfig,
    budget_config,
    rank_from_ratio,
)
from .distill import distill_embeddings
from .dsee import (
    DSEEConfig,
    apply_dsee,
    dsee_state,
    load_dsee,
    merge_dsee,
    parameter_report,
    prune_dsee,
    save_dsee,
)
from .layer import LoSparseLinear, svd_split
from .pruner import LoSparsePruner, cubic_schedule
from .report import CompressionReport, LayerReport, compression_report
from .serialization import load_losparse, save_losparse
from .state import MethodState

__all__: list[str] = [
    "DEFAULT_TARGET_MODULES",
    "DSEE_DEFAULT_TARGET_MODULES",
    "CheckpointCallback",
    "CompressionReport",
    "DSEEConfig",
    "LayerReport",
    "LoSparseConfig",
    "LoSparseLinear",
    "LoSparsePruner",
    "MethodState",
    "apply_dsee",
    "apply_losparse",
    "apply_low_rank_only",
    "apply_prune_only",
    "budget_config",
    "compact",
    "compression_report",
    "cubic_schedule",
    "distill_embeddings",
    "dsee_state",
    "load_dsee",
    "load_losparse",
    "losparse_config",
    "losparse_layers",
    "merge_dsee",
    "merge_losparse",
    "parameter_report",
    "prune_dsee",
    "rank_from_ratio",
    "save_dsee",
    "save_losparse",
    "svd_split",
]
