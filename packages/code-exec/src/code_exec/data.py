"""Dataset building: generate programs, trace them in the sandbox, write resumable shards.

Each example is ``{"tier", "index", "code", "source", "target", "status", "num_steps"}`` where
``source`` is the model input (``<tier-prefix>`` + line-numbered code tokens) and ``target`` is
the official trace text (SingleLine: the final ``<state> ... </state>``). Work is split into
chunks written atomically as JSONL; a rerun skips finished chunks, so a killed build resumes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

import datasets
from lmlab_common import atomic_write_text, get_logger, require, require_choice

from .config import MutationConfig, SandboxConfig
from .generators import GENERATORS, TIERS, code_to_text, program_rng
from .mutation import augment
from .sandbox import Sandbox
from .trace_format import Trace, serialize_state

PREFIX = {"singleline": "<singleline>", "tutorial": "<tutorial>", "mutated": "<codenet>"}
GENERATOR_TIERS = (*TIERS, "mutated_small")  # mutated_small: loop-free originals (claim test)
_log = get_logger(__name__)


def make_example(tier: str, index: int, code: str, result: Trace, **extra) -> dict:
    if tier == "singleline":
        target = serialize_state(result.steps[-1].state) if result.steps else ""
    else:
        target = result.to_text()
    return {
        "tier": tier,
        "index": index,
        "code": code,
        "source": f"{PREFIX[tier]} {code_to_text(code)}",
        "target": target,
        "status": result.status,
        "num_steps": len(result.steps),
        **extra,
    }


def build_examples(
    tier: str,
    indices: Iterable[int],
    sandbox: Sandbox,
    seed: int = 0,
    mutation: MutationConfig | None = None,
    max_steps: int = 60,
) -> list[dict]:
    """Examples for program ``indices`` of ``tier`` (ok traces of at most ``max_steps``).

    For ``mutated`` each index yields the kept mutants of original program ``index``; the
    original itself is returned too, marked ``"is_mutant": False``.
    """
    require_choice("tier", tier, GENERATOR_TIERS)
    indices = list(indices)
    codes = [GENERATORS[tier](program_rng(seed, tier, i)) for i in indices]
    tier = "mutated" if tier == "mutated_small" else tier
    traces = sandbox.map(codes, show_progress=False)
    out = []
    for index, code, result in zip(indices, codes, traces, strict=True):
        if result.status != "ok" or not (0 < len(result.steps) <= max_steps):
            continue
        if tier != "mutated":
            out.append(make_example(tier, index, code, result))
            continue
        out.append(make_example(tier, index, code, result, is_mutant=False, operator=""))
        config = (mutation or MutationConfig()).replace(seed=seed * 100_003 + index)
        for mutant, mtrace in augment(code, sandbox, config, original_trace=result):
            if len(mtrace.steps) <= max_steps:
                ex = make_example(tier, index, mutant.source, mtrace)
                out.append({**ex, "is_mutant": True, "operator": mutant.operator})
    for ex in out:
        ex.setdefault("is_mutant", False)
        ex.setdefault("operator", "")
    return out


def build_dataset(
    out_dir: str,
    sizes: dict[str, int],
    seed: int = 0,
    num_proc: int = 2,
    chunk_size: int = 100,
    sandbox_config: SandboxConfig | None = None,
    mutation: MutationConfig | None = None,
    max_steps: int = 60,
) -> datasets.Dataset:
    """Build (or resume building) a dataset of ``sizes[tier]`` programs per tier under
    ``out_dir`` with ``num_proc`` parallel sandbox workers; return it as a ``Dataset``."""
    require(isinstance(sizes, dict) and sizes, "sizes", sizes, "a dict tier -> count")
    for tier, count in sizes.items():
        require_choice("sizes", tier, TIERS)
        require(isinstance(count, int) and count >= 0, f"sizes[{tier}]", count, "an int >= 0")
    require(isinstance(num_proc, int) and num_proc > 0, "num_proc", num_proc, "an int > 0")
    require(isinstance(chunk_size, int) and chunk_size > 0, "chunk_size", chunk_size, "int > 0")
    os.makedirs(out_dir, exist_ok=True)
    files = []
    with Sandbox(sandbox_config, pool_size=num_proc) as box:
        for tier, count in sizes.items():
            for start in range(0, count, chunk_size):
                path = os.path.join(out_dir, f"{tier}-{seed}-{start:08d}.jsonl")
                files.append(path)
                if os.path.exists(path):
                    continue  # finished by an earlier (possibly killed) run
                stop = min(start + chunk_size, count)
                rows = build_examples(tier, range(start, stop), box, seed, mutation, max_steps)
                atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in rows))
                _log.info("wrote %s (%d examples)", path, len(rows))
    rows = []
    for path in files:
        with open(path, encoding="utf-8") as fh:
            rows += [json.loads(line) for line in fh if line.strip()]
    return datasets.Dataset.from_list(rows) if rows else datasets.Dataset.from_dict({})
