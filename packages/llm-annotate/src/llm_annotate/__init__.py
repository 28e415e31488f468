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
    "agreement",
    "build_prompt",
    "cohen_kappa",
    "confusion",
    "evaluate",
    "explain_prompt",
    "get_template",
    "label_distribution",
    "load_items",
    "load_task",
    "parse_label",
    "parse_shard",
    "prepare_items",
    "read_jsonl",
    "task_from_dict",
    "usage_summary",
]

from .annotate import Annotator
from .backends import Backend, BackendError, Completion, Generation, ScriptedBackend, Usage
from .config import AnnotateConfig, CircuitOpen, DryRun, RunSummary
from .data import load_items, parse_shard, prepare_items
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
