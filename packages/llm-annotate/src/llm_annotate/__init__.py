"""llm-annotate: AnnoLLM explain-then-annotate labelling with any LLM backend.

torch and transformers are imported only by ``TransformersBackend`` (lazily), so the HTTP path
stays light.
"""

__all__: list[str] = [
    "MODES",
    "TEMPLATES",
    "AnnotateConfig",
    "Annotator",
    "Backend",
    "BackendError",
    "CircuitOpen",
    "Completion",
    "DemoSelector",
    "Demonstration",
    "DryRun",
    "EvalReport",
    "Generation",
    "OpenAICompatibleBackend",
    "ParseResult",
    "Prices",
    "PromptTemplate",
    "ResponseCache",
    "ResultsWriter",
    "RunLocked",
    "RunSummary",
    "ScriptedBackend",
    "TaskError",
    "TaskSpec",
    "TransformersBackend",
    "Usage",
    "accuracy",
    "accuracy_at_coverage",
    "add_columns",
    "add_dataset_columns",
    "agreement",
    "auroc",
    "build_prompt",
    "cohen_kappa",
    "confusion",
    "evaluate",
    "explain_prompt",
    "get_template",
    "label_distribution",
    "load_items",
    "load_task",
    "minilm_embedder",
    "parse_label",
    "parse_shard",
    "prepare_items",
    "read_jsonl",
    "task_from_dict",
    "usage_summary",
    "write_table",
]

from .annotate import Annotator
from .backends import Backend, BackendError, Completion, Generation, ScriptedBackend, Usage
from .confidence import accuracy_at_coverage, auroc
from .config import AnnotateConfig, CircuitOpen, DryRun, RunSummary
from .data import load_items, parse_shard, prepare_items
from .demos import DemoSelector, minilm_embedder
from .export import add_columns, add_dataset_columns, write_table
from .lock import RunLocked
from .metrics import (
    EvalReport,
    Prices,
    accuracy,
    agreement,
    cohen_kappa,
    confusion,
    evaluate,
    label_distribution,
    usage_summary,
)
from .openai_backend import OpenAICompatibleBackend
from .parsing import ParseResult, parse_label
from .prompts import MODES, TEMPLATES, PromptTemplate, build_prompt, explain_prompt, get_template
from .store import ResponseCache, ResultsWriter, read_jsonl
from .task import Demonstration, TaskError, TaskSpec, load_task, task_from_dict

__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "TransformersBackend":  # lazy: importing it pulls in torch
        from .transformers_backend import TransformersBackend

        return TransformersBackend
    raise AttributeError(f"module 'llm_annotate' has no attribute {name!r}")
