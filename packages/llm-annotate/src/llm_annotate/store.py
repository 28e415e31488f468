"""On-disk state: the SQLite response cache and the append-only JSONL results file.

Cache: key = sha256 of (backend identity, model, prompt, sampling parameters). Only successful
generations are stored, in WAL mode, committed one by one before the result is written to
JSONL, so a run killed between the two pays nothing again on restart.

Results: one JSON object per line, each written with a single ``os.write`` to an ``O_APPEND``
file and fsynced. On open, a torn last line (a kill mid-write) is cut off, and the ids already
present are the resume point: a restarted run skips them, so every item ends with exactly one
record.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

from lmlab_common import atomic_write_text

from .backends import Generation


def cache_key(identity: dict[str, Any], prompt: str, params: dict[str, Any]) -> str:
    blob = json.dumps(
        {"backend": identity, "prompt": prompt, "params": params},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    """SQLite cache of generations. ``path=None`` keeps it in memory (no persistence)."""

    def __init__(self, path: str | os.PathLike | None) -> None:
        self.path = None if path is None else os.fspath(path)
        if self.path:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        self._db = sqlite3.connect(self.path or ":memory:", timeout=30.0)
        if self.path:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS generations (key TEXT PRIMARY KEY, backend TEXT, "
            "model TEXT, prompt TEXT, params TEXT, response TEXT, created REAL)"
        )
        self._db.commit()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Generation | None:
        row = self._db.execute("SELECT response FROM generations WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return Generation.from_dict(json.loads(row[0]))

    def contains(self, key: str) -> bool:
        """Whether ``key`` is cached (does not count as a hit)."""
        query = "SELECT 1 FROM generations WHERE key = ?"
        return self._db.execute(query, (key,)).fetchone() is not None

    def delete(self, key: str) -> None:
        self._db.execute("DELETE FROM generations WHERE key = ?", (key,))
        self._db.commit()

    def put(self, key: str, identity: dict, prompt: str, params: dict, gen: Generation) -> None:
        if not gen.ok:
            return
        self._db.execute(
            "INSERT OR REPLACE INTO generations VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                json.dumps(identity, sort_keys=True),
                str(identity.get("model", "")),
                prompt,
                json.dumps(params, sort_keys=True),
                json.dumps(gen.to_dict()),
                time.time(),
            ),
        )
        self._db.commit()

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM generations").fetchone()[0])

    def close(self) -> None:
        self._db.close()


def _parse_record(line: bytes, path: str, lineno: int) -> dict[str, Any]:
    try:
        record = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        problem = "not valid UTF-8"
    except json.JSONDecodeError as err:
        problem = f"invalid JSON ({err.msg})"
    else:
        if isinstance(record, dict) and "id" in record:
            return record
        problem = "not a record (a JSON object with an 'id')"
    raise ValueError(
        f"{path}: line {lineno}: corrupt record, {problem}; fix or delete that line "
        "(the item is then annotated again)"
    )


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    """All complete records of a results file (a torn last line is ignored).

    A missing file is ``FileNotFoundError``; a corrupt line is a ``ValueError`` naming the
    file and the line."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"results file {path!r} does not exist")
    with open(path, "rb") as fh:
        data = fh.read()
    records = []
    lines = data.split(b"\n")[:-1]  # the part after the last newline is a torn write
    for lineno, line in enumerate(lines, 1):
        if line.strip():
            records.append(_parse_record(line, path, lineno))
    return records


RETRY = frozenset({"failed", "unparseable"})  # statuses that --retry-failed runs again


class ResultsWriter:
    """Append-only JSONL of annotation records with resume.

    ``done`` holds the ids already recorded. ``retry_failed=True`` drops records whose status
    is ``"failed"`` or ``"unparseable"`` (rewriting the file atomically) so those items run
    again.
    """

    def __init__(self, path: str | os.PathLike, retry_failed: bool = False) -> None:
        self.path = os.fspath(path)
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        self._repair(retry_failed)
        existing = read_jsonl(self.path) if os.path.exists(self.path) else []
        self.done: set[str] = {str(r["id"]) for r in existing}
        # (mode, template, model) of the records already there, to refuse mixing runs
        self.signatures = {(r.get("mode"), r.get("template"), r.get("model")) for r in existing}
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._synced = time.monotonic()

    def _repair(self, retry_failed: bool) -> None:
        if not os.path.exists(self.path):
            return
        with open(self.path, "rb") as fh:
            data = fh.read()
        keep = data[: data.rfind(b"\n") + 1]  # cut a torn last line
        if retry_failed:
            lines = keep.split(b"\n")[:-1]
            keep = b"".join(
                ln + b"\n"
                for n, ln in enumerate(lines, 1)
                if ln.strip() and _parse_record(ln, self.path, n).get("status") not in RETRY
            )
        if keep != data:
            atomic_write_text(self.path, keep.decode("utf-8", "replace"))

    def write(self, record: dict[str, Any]) -> None:
        rid = str(record["id"])
        if rid in self.done:
            raise ValueError(f"id={rid!r} is already recorded in {self.path}; ids must be unique")
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        os.write(self._fd, line)  # one write on O_APPEND: a record is whole or torn, never mixed
        # A killed process loses nothing already written (the page cache survives it); fsync
        # about once a second bounds what a power loss could take without costing throughput.
        if time.monotonic() - self._synced > 1.0:
            os.fsync(self._fd)
            self._synced = time.monotonic()
        self.done.add(rid)

    def close(self) -> None:
        if self._fd >= 0:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_jsonl(path: str | os.PathLike) -> Iterator[dict[str, Any]]:
    yield from read_jsonl(path)
