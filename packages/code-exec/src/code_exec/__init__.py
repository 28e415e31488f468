"""CodeExecutor: sandboxed execution traces, tree-sitter mutation augmentation and
trace-prediction training with a curriculum (Liu et al., Findings of ACL 2023)."""

from .config import CodeExecTrainingArguments, MutationConfig, SandboxConfig
from .sandbox import Sandbox, namespaces_available, trace, trace_many
from .trace_format import (
    STATUSES,
    Step,
    Trace,
    parse_state,
    parse_trace,
    serialize_state,
    serialize_trace,
)

__all__ = [
    "CodeExecTrainingArguments",
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
