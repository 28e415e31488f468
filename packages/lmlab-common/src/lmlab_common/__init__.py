"""lmlab-common: thin helpers shared by the lmlab method libraries."""

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

__version__ = "0.1.0"

__all__ = [
    "LINEAR_TYPES",
    "MINILM_PACKAGE",
    "SPECIAL_TOKENS",
    "ConfigBase",
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
