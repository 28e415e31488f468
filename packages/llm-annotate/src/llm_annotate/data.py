"""Input data: JSONL / JSON / CSV files, lists of dicts or a ``datasets.Dataset``; shards."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Iterable
from typing import Any

from .task import TaskSpec


def parse_shard(text: str | None) -> tuple[int, int]:
    """``"i/n"`` -> (i, n) with 0 <= i < n; ``None`` -> (0, 1)."""
    if text is None:
        return 0, 1
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not match or int(match.group(2)) < 1 or int(match.group(1)) >= int(match.group(2)):
        raise ValueError(f"shard={text!r} is invalid; allowed: 'i/n' with 0 <= i < n, e.g. '0/4'")
    return int(match.group(1)), int(match.group(2))


def read_utf8(path: str, what: str = "file") -> str:
    """The text of ``path``; bytes that are not UTF-8 are an error naming the file and line."""
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ValueError(
            f"{path}: line {line}: {what} is not valid UTF-8 (byte 0x{data[err.start]:02x} "
            f"at offset {err.start}); allowed: UTF-8 text (re-save the file as UTF-8)"
        ) from None


def load_items(source: str | os.PathLike | Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows as dicts from a ``.jsonl``/``.json``/``.csv`` path or any iterable of mappings
    (a ``datasets.Dataset`` iterates as dicts)."""
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        if not os.path.exists(path):
            raise FileNotFoundError(f"data file {path!r} does not exist")
        if path.endswith(".jsonl"):
            rows = []
            for lineno, line in enumerate(read_utf8(path, "data").split("\n"), 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as err:
                        raise ValueError(
                            f"{path}: line {lineno}: invalid JSON: {err.msg}"
                        ) from None
            return rows
        if path.endswith(".json"):
            try:
                data = json.loads(read_utf8(path, "data"))
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}: line {err.lineno}: invalid JSON: {err.msg}") from None
            if not isinstance(data, list):
                raise ValueError(f"{path}: a .json data file must hold a list of objects")
            return data
        if path.endswith(".csv"):
            text = read_utf8(path, "data")
            return list(csv.DictReader(io.StringIO(text, newline="")))
        raise ValueError(f"data={path!r} is invalid; allowed: a .jsonl, .json or .csv file")
    return [dict(row) for row in source]


def prepare_items(
    rows: list[dict[str, Any]], task: TaskSpec, shard: tuple[int, int] = (0, 1)
) -> list[dict[str, Any]]:
    """Check input fields, assign ids (the task's ``id_field`` or the row index) and keep the
    rows of ``shard`` (contiguous blocks, like ``datasets.Dataset.shard(contiguous=True)``)."""
    index, count = shard
    ids = set()
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ValueError(f"row {i}: allowed: a mapping of fields, got {type(row).__name__}")
        task.check_inputs(row, f"row {i}")
        rid = str(row.get(task.id_field, i))
        if rid in ids:
            raise ValueError(f"row {i}: id {rid!r} is duplicated; allowed: unique ids")
        ids.add(rid)
        out.append({**row, "__id": rid})
    size, extra = divmod(len(out), count)
    start = index * size + min(index, extra)
    stop = start + size + (1 if index < extra else 0)
    return out[start:stop]
