"""Report plumbing shared by every ``reproduce`` and benchmark: mean ± sd, tables, writer.

One convention everywhere: the *sample* standard deviation, with ``n`` shown.
"""

from __future__ import annotations

import dataclasses
import math
import os
import statistics
from collections.abc import Iterable, Sequence
from typing import Any

from .io import atomic_write_json, atomic_write_text


@dataclasses.dataclass(frozen=True)
class MeanStd:
    """Mean and sample standard deviation (0.0 when ``n == 1``) of ``n`` values."""

    mean: float
    sd: float
    n: int

    def format(self, scale: float = 1.0, digits: int = 3) -> str:
        """``"0.812 ± 0.010 (n=3)"``; ``scale=100`` prints fractions as percentages."""
        if self.n == 0:
            return "—"
        m, s = self.mean * scale, self.sd * scale
        return f"{m:.{digits}f} ± {s:.{digits}f} (n={self.n})"

    def __str__(self) -> str:
        return self.format()

    def to_dict(self) -> dict[str, float | int]:
        return {"mean": self.mean, "sd": self.sd, "n": self.n}


def mean_std(values: Iterable[float]) -> MeanStd:
    """:class:`MeanStd` of ``values`` (sample sd). Non-finite values are an error."""
    data = [float(v) for v in values]
    bad = [v for v in data if not math.isfinite(v)]
    if bad:
        raise ValueError(f"values={bad[:3]!r} is invalid; allowed: finite numbers")
    if not data:
        return MeanStd(float("nan"), float("nan"), 0)
    sd = statistics.stdev(data) if len(data) > 1 else 0.0
    return MeanStd(statistics.fmean(data), sd, len(data))


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub Markdown table; floats print with 4 significant decimals."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.4f}"
        return str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"row={list(row)!r} has {len(row)} cells; allowed: {len(header)}")
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines)


def write_report(
    out_dir: str | os.PathLike, name: str, data: dict[str, Any], markdown: str
) -> tuple[str, str]:
    """Write ``out_dir/name.json`` (``data`` plus an ``environment`` record) and
    ``out_dir/name.md`` atomically; return both paths. Safe to call after every arm."""
    from .cli import environment

    if not name or os.sep in name:
        raise ValueError(f"name={name!r} is invalid; allowed: a file stem without '{os.sep}'")
    os.makedirs(out_dir, exist_ok=True)
    env = environment()
    json_path = os.path.join(out_dir, f"{name}.json")
    md_path = os.path.join(out_dir, f"{name}.md")
    atomic_write_json(json_path, {**data, "environment": env})
    footer = (
        f"\n\n_Environment: Python {env['python']}, torch {env['torch']}, transformers "
        f"{env['transformers']}, {env['threads']} threads on {env['device']} "
        f"({env['platform']})._\n"
    )
    atomic_write_text(md_path, markdown.rstrip() + footer)
    return json_path, md_path
