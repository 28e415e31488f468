"""Find and replace linear layers of any transformers model by name patterns.

A pattern matches a module's dotted name when it equals the name, equals its last
components (``"query"`` or ``"attention.self.query"``), or is a regular expression that
fully matches the name. ``torch.nn.Linear`` and GPT-2's ``Conv1D`` (weight stored
``(d_in, d_out)``) both count as linear layers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import torch
from torch import nn
from transformers.pytorch_utils import Conv1D

LINEAR_TYPES: tuple[type[nn.Module], ...] = (nn.Linear, Conv1D)


def is_linear(module: nn.Module) -> bool:
    return isinstance(module, LINEAR_TYPES)


def name_matches(name: str, pattern: str) -> bool:
    """Whether ``name`` is matched by ``pattern`` (suffix on dotted components, or full regex)."""
    if name == pattern or name.endswith("." + pattern):
        return True
    try:
        return re.fullmatch(pattern, name) is not None
    except re.error:
        return False


def linear_names(model: nn.Module) -> list[str]:
    """Dotted names of every linear layer (``nn.Linear`` or ``Conv1D``) in ``model``."""
    return [name for name, module in model.named_modules() if is_linear(module)]


def find_linear_modules(
    model: nn.Module,
    patterns: str | Sequence[str],
    exclude: Sequence[str] = (),
) -> dict[str, nn.Module]:
    """Linear layers whose names match any of ``patterns`` and none of ``exclude``.

    Returns ``{dotted_name: module}`` in model order. Raises ``ValueError`` listing the
    candidate linear layer names when a pattern matches nothing.
    """
    if isinstance(patterns, str):
        patterns = [patterns]
    patterns = list(patterns)
    if not patterns:
        raise ValueError("patterns=[] is invalid; allowed: a non-empty list of name patterns")
    candidates = {
        name: module
        for name, module in model.named_modules()
        if is_linear(module) and not any(name_matches(name, p) for p in exclude)
    }
    found: dict[str, nn.Module] = {}
    unmatched = []
    for pattern in patterns:
        hits = [name for name in candidates if name_matches(name, pattern)]
        if not hits:
            unmatched.append(pattern)
        for name in hits:
            found[name] = candidates[name]
    if unmatched:
        raise ValueError(
            f"patterns {unmatched} matched no linear layer of {type(model).__name__}; "
            f"allowed: names or regexes matching these candidates: {_summarise(candidates)}"
        )
    return {name: found[name] for name in candidates if name in found}


def get_module(model: nn.Module, name: str) -> nn.Module:
    """The submodule at dotted ``name``; ``ValueError`` if there is none."""
    try:
        return model.get_submodule(name)
    except AttributeError as err:
        raise ValueError(f"name={name!r} is not a submodule of {type(model).__name__}") from err


def replace_module(model: nn.Module, name: str, new: nn.Module) -> nn.Module:
    """Put ``new`` at dotted ``name`` inside ``model`` and return the module it replaced."""
    if not name:
        raise ValueError("name='' is invalid; allowed: the dotted name of a submodule")
    parent_name, _, child = name.rpartition(".")
    parent = get_module(model, parent_name) if parent_name else model
    old = get_module(model, name)
    setattr(parent, child, new)
    return old


def linear_weight(module: nn.Module) -> torch.Tensor:
    """The weight as ``(d_out, d_in)`` whatever the layer type (a view for ``Conv1D``)."""
    if isinstance(module, nn.Linear):
        return module.weight
    if isinstance(module, Conv1D):
        return module.weight.t()
    raise ValueError(f"module={type(module).__name__} is invalid; allowed: nn.Linear or Conv1D")


def linear_shape(module: nn.Module) -> tuple[int, int]:
    """``(d_out, d_in)`` of a linear layer."""
    d_out, d_in = linear_weight(module).shape
    return int(d_out), int(d_in)


def _summarise(names: Iterable[str], limit: int = 40) -> str:
    names = list(names)
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")
