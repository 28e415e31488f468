"""Results back into the user's table: labels, confidence and explanations as new columns.

    rows = load_items("data.csv")
    labelled = add_columns(rows, read_jsonl("labels.jsonl"), task)   # list of dicts
    write_table(labelled, "data.labelled.csv")                        # .csv or .jsonl
    dataset = add_dataset_columns(dataset, read_jsonl("labels.jsonl"), task)  # datasets.Dataset

Rows are matched to records by id (the task's ``id_field``, else the row's position, exactly as
``prepare_items`` assigns them); a row without a record gets empty cells.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from typing import Any

from lmlab_common import atomic_write_text

from .data import prepare_items
from .task import TaskSpec

FIELDS = ("label", "confidence", "status", "explanation")


def columns(
    rows: Sequence[dict[str, Any]],
    records: Sequence[dict[str, Any]],
    task: TaskSpec,
    prefix: str = "llm_",
    fields: Sequence[str] = FIELDS,
) -> dict[str, list[Any]]:
    """``{prefix + field: one value per row}`` for ``fields`` of the records."""
    bad = sorted(set(fields) - set(FIELDS))
    if bad:
        raise ValueError(f"fields {bad} are invalid; allowed: {list(FIELDS)}")
    by_id = {str(r["id"]): r for r in records}
    ids = [item["__id"] for item in prepare_items(list(rows), task)]
    taken = [name for name in (prefix + f for f in fields) if rows and name in rows[0]]
    if taken:
        raise ValueError(f"columns {taken} already exist in the table; choose another prefix")
    return {prefix + f: [by_id.get(i, {}).get(f) for i in ids] for f in fields}


def add_columns(
    rows: Sequence[dict[str, Any]],
    records: Sequence[dict[str, Any]],
    task: TaskSpec,
    prefix: str = "llm_",
    fields: Sequence[str] = FIELDS,
) -> list[dict[str, Any]]:
    """Copies of ``rows`` with the new columns appended."""
    new = columns(rows, records, task, prefix, fields)
    return [{**row, **{k: v[i] for k, v in new.items()}} for i, row in enumerate(rows)]


def add_dataset_columns(
    dataset: Any,
    records: Sequence[dict[str, Any]],
    task: TaskSpec,
    prefix: str = "llm_",
    fields: Sequence[str] = FIELDS,
) -> Any:
    """A ``datasets.Dataset`` with the new columns (``Dataset.add_column``); save it with
    ``save_to_disk``. Missing values become ``None``."""
    new = columns(list(dataset), records, task, prefix, fields)
    for name, values in new.items():
        dataset = dataset.add_column(name, values)
    return dataset


def write_table(rows: Sequence[dict[str, Any]], path: str | os.PathLike) -> None:
    """Write rows atomically as ``.jsonl`` or ``.csv`` (columns in first-seen order), or as a
    ``datasets.Dataset`` saved to the folder ``path`` (ending in ``/``, or an existing folder;
    needs ``llm-annotate[datasets]``)."""
    path = os.fspath(path)
    if path.endswith(os.sep) or os.path.isdir(path):
        from datasets import Dataset

        Dataset.from_list(list(rows)).save_to_disk(path)
        return
    if path.endswith(".jsonl"):
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    elif path.endswith(".csv"):
        names: dict[str, None] = {}
        for row in rows:
            names.update(dict.fromkeys(row))
        buffer = io.StringIO(newline="")
        writer = csv.DictWriter(buffer, fieldnames=list(names), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
        text = buffer.getvalue()
    else:
        raise ValueError(
            f"out={path!r} is invalid; allowed: a .jsonl or .csv file, or a folder ending in "
            f"'{os.sep}' (datasets.Dataset.save_to_disk)"
        )
    atomic_write_text(path, text)
