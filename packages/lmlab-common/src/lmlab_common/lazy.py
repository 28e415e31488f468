"""Lazy package exports: public names are imported from their submodule on first use.

A package's ``__init__`` maps each public name to the submodule defining it, so importing
the package (or running its CLI's ``--help``) does not pay for torch or transformers::

    _EXPORTS = {"MyTrainer": "trainer", "my_loss": "losses"}
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str], aliases: Mapping[str, str] | None = None
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Module-level ``__getattr__`` and ``__dir__`` for ``package``.

    ``exports`` maps public name -> submodule (relative to ``package``); ``aliases`` maps a
    public name to a different name inside its submodule. A loaded name is cached on the
    package, so the submodule is imported once.
    """
    aliases = dict(aliases or {})

    def __getattr__(name: str) -> Any:
        submodule = exports.get(name)
        if submodule is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{submodule}", package), aliases.get(name, name))
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
