"""lmlab-common: thin helpers shared by the lmlab method libraries.

Names are imported lazily on first use, so light helpers (configs, atomic IO, logging) do
not pull in torch or transformers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "ConfigBase": "config",
    "LINEAR_TYPES": "modules",
    "MINILM_PACKAGE": "offline",
    "MeanStd": "report",
    "SPECIAL_TOKENS": "tokenizers",
    "USER_ERRORS": "cli",
    "add_reproduce_args": "cli",
    "atomic_write": "io",
    "atomic_write_json": "io",
    "atomic_write_text": "io",
    "embed": "embeddings",
    "embed_batch": "embeddings",
    "english_sentences": "offline",
    "environment": "cli",
    "find_linear_modules": "modules",
    "get_device": "seed",
    "lazy_exports": "lazy",
    "get_logger": "log",
    "get_module": "modules",
    "is_linear": "modules",
    "linear_names": "modules",
    "linear_shape": "modules",
    "linear_weight": "modules",
    "load_minilm": "embeddings",
    "load_tensors": "io",
    "markdown_table": "report",
    "mean_pool": "embeddings",
    "mean_std": "report",
    "minilm_path": "offline",
    "name_matches": "modules",
    "progress": "log",
    "progress_enabled": "log",
    "replace_module": "modules",
    "require": "config",
    "require_choice": "config",
    "require_int": "config",
    "require_range": "config",
    "run_cli": "cli",
    "save_tensors": "io",
    "set_seed": "seed",
    "tiny_causal_lm": "tiny_models",
    "tiny_encoder": "tiny_models",
    "tiny_seq2seq": "tiny_models",
    "tokenize": "embeddings",
    "train_tokenizer": "tokenizers",
    "write_report": "report",
}

__all__ = [
    "ConfigBase",
    "LINEAR_TYPES",
    "MINILM_PACKAGE",
    "MeanStd",
    "SPECIAL_TOKENS",
    "USER_ERRORS",
    "add_reproduce_args",
    "atomic_write",
    "atomic_write_json",
    "atomic_write_text",
    "embed",
    "embed_batch",
    "english_sentences",
    "environment",
    "find_linear_modules",
    "get_device",
    "lazy_exports",
    "get_logger",
    "get_module",
    "is_linear",
    "linear_names",
    "linear_shape",
    "linear_weight",
    "load_minilm",
    "load_tensors",
    "markdown_table",
    "mean_pool",
    "mean_std",
    "minilm_path",
    "name_matches",
    "progress",
    "progress_enabled",
    "replace_module",
    "require",
    "require_choice",
    "require_int",
    "require_range",
    "run_cli",
    "save_tensors",
    "set_seed",
    "tiny_causal_lm",
    "tiny_encoder",
    "tiny_seq2seq",
    "tokenize",
    "train_tokenizer",
    "write_report",
]


# Public name -> name inside its module, where they differ.
_ALIASES = {"run_cli": "run"}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, _ALIASES)


if TYPE_CHECKING:
    from .cli import USER_ERRORS, add_reproduce_args, environment
    from .cli import run as run_cli
    from .config import ConfigBase, require, require_choice, require_int, require_range
    from .embeddings import embed, embed_batch, load_minilm, mean_pool, tokenize
    from .io import atomic_write, atomic_write_json, atomic_write_text, load_tensors, save_tensors
    from .lazy import lazy_exports
    from .log import get_logger, progress, progress_enabled
    from .modules import (
        LINEAR_TYPES,
        find_linear_modules,
        get_module,
        is_linear,
        linear_names,
        linear_shape,
        linear_weight,
        name_matches,
        replace_module,
    )
    from .offline import MINILM_PACKAGE, english_sentences, minilm_path
    from .report import MeanStd, markdown_table, mean_std, write_report
    from .seed import get_device, set_seed
    from .tiny_models import tiny_causal_lm, tiny_encoder, tiny_seq2seq
    from .tokenizers import SPECIAL_TOKENS, train_tokenizer
