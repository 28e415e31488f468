"""Programs and infilling tasks: code-exec's seeded generators (+ tree-sitter mutants), traced
in its sandbox, split by generator seed, each held-out program with a removed middle span."""

from __future__ import annotations

import ast
import dataclasses
import math
import random

from code_exec import MutationConfig, Sandbox, Trace, build_examples
from lmlab_common import get_logger, require, require_int

from .options import TIERS, InfillOptions

log = get_logger("code_infill")


@dataclasses.dataclass
class InfillTask:
    """One program with lines ``[start, start + num_lines)`` removed (0-based).

    ``prefix + middle + suffix == code``; ``ref_*`` is the original's sandbox result (the
    printed output and the final variable state of its trace).
    """

    task_id: str
    code: str
    start: int
    num_lines: int
    prefix: str
    middle: str
    suffix: str
    tier: str = "user"
    is_mutant: bool = False
    ref_status: str = ""
    ref_stdout: str = ""
    ref_state: dict[str, str] = dataclasses.field(default_factory=dict)

    def filled(self, middle: str) -> str:
        return self.prefix + middle + self.suffix

    def set_reference(self, trace: Trace) -> None:
        self.ref_status = trace.status
        self.ref_stdout = trace.stdout
        self.ref_state = dict(trace.steps[-1].state) if trace.steps else {}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> InfillTask:
        return cls(**data)


def check_parses(code: str, name: str = "program") -> None:
    """``ValueError`` naming the line when ``code`` is not valid Python (parsed, never run)."""
    require(isinstance(code, str), name, type(code).__name__, "Python source text (str)")
    try:
        ast.parse(code)
    except SyntaxError as err:
        raise ValueError(
            f"{name} does not parse: SyntaxError at line {err.lineno}: {err.msg} "
            f"({(err.text or '').strip()!r}); allowed: valid Python source"
        ) from None


def make_task(code: str, start: int, num_lines: int, task_id: str = "user", **extra) -> InfillTask:
    """Cut lines ``[start, start + num_lines)`` (0-based) out of ``code``.

    Raises ``ValueError`` for a program that does not parse or a span that does not fit.
    """
    check_parses(code)
    if not code.endswith("\n"):
        code += "\n"
    lines = code.splitlines(keepends=True)
    require_int("num_lines", num_lines, 1)
    require_int("start", start, 0)
    if start + num_lines > len(lines):
        raise ValueError(
            f"span start={start}, num_lines={num_lines} (lines {start}..{start + num_lines - 1}, "
            f"0-based) is longer than the program ({len(lines)} lines); allowed: "
            f"start + num_lines <= {len(lines)}"
        )
    middle = "".join(lines[start : start + num_lines])
    require(middle.strip() != "", "span", (start, num_lines), "a span with some code in it")
    return InfillTask(
        task_id=task_id,
        code=code,
        start=start,
        num_lines=num_lines,
        prefix="".join(lines[:start]),
        middle=middle,
        suffix="".join(lines[start + num_lines :]),
        **extra,
    )


def random_span(code: str, max_span_lines: int, rng: random.Random) -> tuple[int, int]:
    """A middle span: 1..max_span_lines lines with at least one line before and after."""
    n = len(code.splitlines())
    require(n >= 3, "program", f"{n} lines", "at least 3 lines (a prefix, a middle, a suffix)")
    num = rng.randint(1, min(max_span_lines, n - 2))
    return rng.randint(1, n - 1 - num), num


def generate(tier: str, count: int, seed: int, box: Sandbox, mutants: int) -> list[dict]:
    """``count`` originals of ``tier`` from generator seed ``seed`` (+ their mutants), keeping
    only programs whose sandbox trace ends ``ok`` (they run and terminate)."""
    mutation = MutationConfig(mutants_per_program=mutants, max_candidates=3 * mutants + 2)
    rows = build_examples(tier, range(count), box, seed=seed, mutation=mutation)
    return [
        {
            "code": r["code"],
            "tier": tier,
            "is_mutant": bool(r.get("is_mutant")),
            "index": r["index"],
        }
        for r in rows
        if r["status"] == "ok"
    ]


def build_programs(
    options: InfillOptions, box: Sandbox
) -> tuple[list[dict], list[InfillTask], dict]:
    """Training programs (generator seed ``seed``) and held-out tasks (seed ``seed + 1``).

    Held-out programs that also occur verbatim in the training set are dropped (the
    generators' program space is small), as are held-out duplicates.
    """
    train: list[dict] = []
    per_tier = [options.train_programs // len(TIERS)] * len(TIERS)
    per_tier[0] += options.train_programs - sum(per_tier)
    for tier, count in zip(TIERS, per_tier, strict=True):
        train += generate(tier, count, options.seed, box, options.mutants_per_program)
    seen = {row["code"] for row in train}
    pool: list[dict] = []
    dropped = 0
    held_count = math.ceil(options.eval_programs / len(TIERS))
    for tier in TIERS:
        for row in generate(tier, held_count, options.seed + 1, box, options.mutants_per_program):
            if row["code"] in seen:
                dropped += 1
                continue
            seen.add(row["code"])
            pool.append(row)
    random.Random(f"{options.seed}:heldout").shuffle(pool)
    pool = pool[: options.eval_programs]
    require(
        len(pool) >= 2,
        "eval_programs",
        options.eval_programs,
        "enough held-out programs (got fewer than 2 after removing training duplicates)",
    )
    tasks = []
    for k, row in enumerate(pool):
        start, num = random_span(
            row["code"], options.max_span_lines, random.Random(f"{options.seed}:span:{k}")
        )
        task_id = f"{row['tier']}-{row['index']}-{k}"
        tasks.append(
            make_task(
                row["code"], start, num, task_id, tier=row["tier"], is_mutant=row["is_mutant"]
            )
        )
    for task, trace in zip(
        tasks, box.map([t.code for t in tasks], show_progress=False), strict=True
    ):
        task.set_reference(trace)
    tasks = [t for t in tasks if t.ref_status == "ok"]
    log.info("data: %d training programs, %d held-out tasks", len(train), len(tasks))
    stats = {
        "train_programs": len(train),
        "train_mutants": sum(r["is_mutant"] for r in train),
        "heldout_tasks": len(tasks),
        "heldout_mutants": sum(t.is_mutant for t in tasks),
        "heldout_dropped_as_duplicates": dropped,
        "span_lines": {
            str(k): sum(t.num_lines == k for t in tasks)
            for k in range(1, options.max_span_lines + 1)
        },
        "tiers": {tier: sum(t.tier == tier for t in tasks) for tier in TIERS},
    }
    return train, tasks, stats
