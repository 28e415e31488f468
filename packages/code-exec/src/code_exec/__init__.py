"""CodeExecutor: sandboxed execution traces, tree-sitter mutation augmentation and
trace-prediction training with a curriculum (Liu et al., Findings of ACL 2023)."""

from .config import CodeExecTrainingArguments, MutationConfig, SandboxConfig
from .data import build_dataset, build_examples
from .metrics import TraceMetrics, compute_metrics, compute_singleline_metrics
from .model import PrefixLMTraceModel, prefix_lm_mask
from .mutation import Mutant, augment, candidate_mutants
from .sandbox import Sandbox, available_layers, namespaces_available, trace, trace_many
from .trace_format import (
    STATUSES,
    Step,
    Trace,
    parse_state,
    parse_trace,
    serialize_state,
    serialize_trace,
)
from .trainer import (
    CodeExecTrainer,
    TraceCollator,
    build_tokenizer,
    predict_traces,
    weighted_trace_loss,
)

__all__: list[str] = [
    "CodeExecTrainer",
    "CodeExecTrainingArguments",
    "Mutant",
    "PrefixLMTraceModel",
    "TraceCollator",
    "TraceMetrics",
    "augment",
    "available_layers",
    "build_dataset",
    "build_examples",
    "build_tokenizer",
    "candidate_mutants",
    "compute_metrics",
    "compute_singleline_metrics",
    "predict_traces",
    "prefix_lm_mask",
    "weighted_trace_loss",
    "MutationConfig",
    "STATUSES",
    "Sandbox",
    "SandboxConfig",
    "Step",
    "Trace",
    "namespaces_available",
    "parse_state",
    "parse_trace",
    "serialize_state",
    "serialize_trace",
    "trace",
    "trace_many",
]
