"""A dataclass config base: dict/JSON round trip, save/load to a directory, validation."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable
from typing import Any, ClassVar, Self

from .io import atomic_write_text


def require(ok: bool, field: str, value: Any, allowed: str) -> None:
    """Raise ``ValueError`` naming ``field``, the bad ``value`` and what is ``allowed``."""
    if not ok:
        raise ValueError(f"{field}={value!r} is invalid; allowed: {allowed}")


def require_choice(field: str, value: Any, choices: Iterable[Any]) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    choices = list(choices)
    require(value in choices, field, value, "one of " + ", ".join(repr(c) for c in choices))


def require_range(
    field: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> None:
    """Raise ``ValueError`` unless ``value`` is a number inside the given interval."""
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    ok = is_number
    if ok and low is not None:
        ok = value >= low if low_inclusive else value > low
    if ok and high is not None:
        ok = value <= high if high_inclusive else value < high
    left = ("[" if low_inclusive else "(") + ("-inf" if low is None else f"{low:g}")
    right = ("inf" if high is None else f"{high:g}") + ("]" if high_inclusive else ")")
    require(ok, field, value, f"a number in {left}, {right}")


def require_int(field: str, value: Any, low: int | None = None, high: int | None = None) -> None:
    """Raise ``ValueError`` unless ``value`` is an int (not a bool) in ``[low, high]``."""
    ok = isinstance(value, int) and not isinstance(value, bool)
    if ok and low is not None:
        ok = value >= low
    if ok and high is not None:
        ok = value <= high
    if low is not None and high is not None:
        allowed = f"an int in [{low}, {high}]"
    elif low is not None:
        allowed = f"an int >= {low}"
    elif high is not None:
        allowed = f"an int <= {high}"
    else:
        allowed = "an int"
    require(ok, field, value, allowed)


@dataclasses.dataclass
class ConfigBase:
    """Mixin for method configs.

    Subclasses are dataclasses; they validate in ``__post_init__`` with :func:`require`.
    ``config_name`` is the file written by :meth:`save_pretrained`.
    """

    config_name: ClassVar[str] = "config.json"

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dict of the fields (tuples become lists, as in JSON)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = _to_jsonable(value)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Build from a dict; unknown keys are an error naming them and the known ones."""
        if not isinstance(data, dict):
            raise ValueError(f"data={type(data).__name__} is invalid; allowed: a dict")
        known = {f.name for f in dataclasses.fields(cls) if f.init}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"{cls.__name__} got unknown field(s) {unknown}; allowed: {sorted(known)}"
            )
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Self:
        return cls.from_dict(json.loads(text))

    def save_pretrained(self, directory: str | os.PathLike) -> str:
        """Write the config atomically to ``directory/config_name``; return the file path."""
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, self.config_name)
        atomic_write_text(path, self.to_json() + "\n")
        return path

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> Self:
        path = os.path.join(directory, cls.config_name)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no {cls.config_name} in {os.fspath(directory)!r}")
        with open(path, encoding="utf-8") as fh:
            return cls.from_json(fh.read())

    def replace(self, **changes: Any) -> Self:
        """A validated copy with some fields changed."""
        return dataclasses.replace(self, **changes)


def _to_jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _to_jsonable(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value
