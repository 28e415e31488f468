"""Fill held-out tasks with each method in batches and judge every batch in the sandbox.

Each finished (batch, method) pair is one JSONL file under ``infills/``, written atomically:
a killed run resumes at the first missing file and never re-runs a finished infill.
"""

from __future__ import annotations

import json
import os
import time

from bidir_lm import BidirectionalLM, infill_ids
from code_exec import Sandbox
from lmlab_common import atomic_write_text

from .codetok import decode_code, encode_code
from .data import InfillTask
from .judging import judge

INFILL_DIR = "infills"


def batch_path(out_dir: str, method: str, batch: int) -> str:
    return os.path.join(out_dir, INFILL_DIR, method, f"batch-{batch:05d}.jsonl")


def fill(
    model: BidirectionalLM,
    tokenizer,
    tasks: list[InfillTask],
    method: str,
    max_new_tokens: int,
    min_new_tokens: int = 1,
) -> tuple[list[dict], float]:
    """Infill ``tasks`` as one batch: MIM meets in the middle, FIM uses its PSM prompt, L2R
    sees the prefix only (the suffix's first token just stops it). No fill is shorter than
    ``min_new_tokens`` tokens (bidir-lm's rule for each method). Returns per-task
    ``{"middle", "middle_tokens", "met", "decode_steps"}`` and the wall seconds of the batch."""
    prefixes = encode_code(tokenizer, [t.prefix for t in tasks])
    suffixes = encode_code(tokenizer, [t.suffix for t in tasks])
    started = time.perf_counter()
    results = infill_ids(
        model,
        prefixes,
        suffixes,
        max_new_tokens,
        method,
        batch_size=len(tasks),
        show_progress=False,
        min_new_tokens=min_new_tokens,
    )
    seconds = time.perf_counter() - started
    out = [
        {
            "middle": decode_code(tokenizer, r.middle_ids),
            "middle_tokens": len(r.middle_ids),
            "met": r.met,
            "decode_steps": r.steps,
        }
        for r in results
    ]
    return out, seconds


def run_batch(
    out_dir: str,
    method: str,
    batch: int,
    model: BidirectionalLM,
    tokenizer,
    tasks: list[InfillTask],
    box: Sandbox,
    max_new_tokens: int,
    min_new_tokens: int = 1,
) -> list[dict]:
    """Fill and judge one batch of ``tasks`` with ``method``; write and return its records."""
    fills, seconds = fill(model, tokenizer, tasks, method, max_new_tokens, min_new_tokens)
    verdicts = judge(box, tasks, [f["middle"] for f in fills])
    per_infill_ms = 1000 * seconds / len(tasks)
    records = [
        {
            "task_id": task.task_id,
            "method": method,
            "batch": batch,
            **f,
            "latency_ms": per_infill_ms,
            "filled_program": task.filled(f["middle"]),
            **v.to_dict(),
        }
        for task, f, v in zip(tasks, fills, verdicts, strict=True)
    ]
    path = batch_path(out_dir, method, batch)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in records))
    return records


def load_batch(out_dir: str, method: str, batch: int) -> list[dict] | None:
    """The records of a finished batch, or ``None`` when it has not been written yet."""
    path = batch_path(out_dir, method, batch)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
