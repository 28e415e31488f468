"""lmlab-common: thin helpers shared by the lmlab method libraries.

Names are imported lazily on first use, so light helpers (configs, atomic IO, logging) do
not pull in torch or transformers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "ConfigBase": "config",
    "LINEAR_TYPES": "modules",
    "MINILM_PACKAGE": "offline",
    "SPECIAL_TOKENS": "tokenizers",
    "atomic_write": "io",
    "atomic_write_json": "io",
    "atomic_write_text": "io",
    "english_sentences": "offline",
    "find_linear_modules": "modules",
    "get_device": "seed",
    "get_logger": "log",
    "get_module": "modules",
    "is_linear": "modules",
    "linear_names": "modules",
    "linear_shape": "modules",
    "linear_weight": "modules",
    "load_tensors": "io",
    "minilm_path": "offline",
    "name_matches": "modules",
    "progress": "log",
    "progress_enabled": "log",
    "replace_module": "modules",
    "require": "config",
    "require_choice": "config",
    "require_range": "config",
    "save_tensors": "io",
    "set_seed": "seed",
    "tiny_causal_lm": "tiny_models",
    "tiny_encoder": "tiny_models",
    "tiny_seq2seq": "tiny_models",
    "train_tokenizer": "tokenizers",
}

__all__ = [
    "ConfigBase",
    "LINEAR_TYPES",
    "MINILM_PACKAGE",
    "SPECIAL_TOKENS",
    "atomic_write",
    "atomic_write_json",
    "atomic_write_text",
    "english_sentences",
    "find_linear_modules",
    "get_device",
    "get_logger",
    "get_module",
    "is_linear",
    "linear_names",
    "linear_shape",
    "linear_weight",
    "load_tensors",
    "minilm_path",
    "name_matches",
    "progress",
    "progress_enabled",
    "replace_module",
    "require",
    "require_choice",
    "require_range",
    "save_tensors",
    "set_seed",
    "tiny_causal_lm",
    "tiny_encoder",
    "tiny_seq2seq",
    "train_tokenizer",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from .config import ConfigBase, require, require_choice, require_range
    from .io import atomic_write, atomic_write_json, atomic_write_text, load_tensors, save_tensors
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
    from .seed import get_device, set_seed
    from .tiny_models import tiny_causal_lm, tiny_encoder, tiny_seq2seq
    from .tokenizers import SPECIAL_TOKENS, train_tokenizer
