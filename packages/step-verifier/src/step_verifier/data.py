"""The data model (problems, reasoning paths, steps), parsers, answers, TRL PRM rows, JSONL.

A :class:`ReasoningPath` is a list of step strings plus the final answer parsed from it. GSM8K
solutions write each step on its own line with calculator annotations ``<<48/2=24>>24`` and end
with ``#### 72``; the ``#### 72`` line is kept as the path's last step (its result is the
answer), so a verifier can also judge "the answer follows from the work".
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Iterable, Sequence
from typing import Any

from lmlab_common import atomic_write_text

ANSWER_MARK = "####"
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
_CALC = re.compile(r"<<([^<>]*)>>\s*(-?[\d,]*\.?\d+)?")
_FREE_TEXT_ANSWER = re.compile(r"(?:the )?answer is[:\s]*(.+)$", re.I)
_UNITS = re.compile(r"^[^\d\-.]*|[^\d]*$")


@dataclasses.dataclass
class ReasoningPath:
    """One solution: ``steps`` (strings, in order) and the final ``answer`` (None = unparsable)."""

    steps: list[str]
    answer: str | None
    prompt_index: int = 0

    @property
    def text(self) -> str:
        return "\n".join(self.steps)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Problem:
    """A question, its gold answer (normalised), optionally a gold solution, and sampled paths."""

    question: str
    gold_answer: str
    gold_solution: ReasoningPath | None = None
    paths: list[ReasoningPath] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "gold_answer": self.gold_answer,
            "gold_solution": None if self.gold_solution is None else self.gold_solution.to_dict(),
            "paths": [p.to_dict() for p in self.paths],
        }

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> Problem:
        for key in ("question", "gold_answer"):
            if key not in row:
                raise ValueError(f"row is missing {key!r}; got keys {sorted(row)}")
        gold = row.get("gold_solution")
        return cls(
            question=row["question"],
            gold_answer=normalize_answer(str(row["gold_answer"])) or str(row["gold_answer"]),
            gold_solution=None if gold is None else ReasoningPath(**gold),
            paths=[ReasoningPath(**p) for p in row.get("paths", [])],
        )


def normalize_answer(text: str | None) -> str | None:
    """A canonical answer string: numbers lose commas, units, ``$``, trailing ``.`` and zeros
    (``"$1,200.50 dollars"`` → ``"1200.5"``, ``"3.0"`` → ``"3"``); other text is lower-cased
    and stripped of surrounding punctuation. Empty / None → None."""
    if text is None:
        return None
    text = text.strip()
    if not text:
        return None
    match = _NUMBER.search(text)
    if match:
        number = match.group(0).replace(",", "")
        if "." in number:
            number = number.rstrip("0").rstrip(".")
        if number in ("-0", "") or number.startswith("-") and set(number[1:]) <= {"0"}:
            number = "0"
        return number
    cleaned = text.lower().strip(" .,:;!?\"'")
    return cleaned or None


def step_result(step: str) -> str | None:
    """The step's result: the number after the last ``<<…>>`` annotation (or inside it after
    ``=``), the answer of a ``####`` line, else None."""
    if ANSWER_MARK in step:
        return normalize_answer(step.split(ANSWER_MARK, 1)[1])
    calls = list(_CALC.finditer(step))
    if not calls:
        return None
    expr, after = calls[-1].group(1), calls[-1].group(2)
    if after:
        return normalize_answer(after)
    if "=" in expr:
        return normalize_answer(expr.rsplit("=", 1)[1])
    return None


def parse_gsm8k_solution(text: str) -> ReasoningPath:
    """GSM8K format: one step per non-empty line, ``#### answer`` last. A solution without
    ``####`` gets its answer from the last calculator result (as the official code does), and
    that answer is appended as a ``#### a`` step."""
    steps = [line.strip() for line in text.strip().split("\n") if line.strip()]
    answer = None
    for step in steps:
        if ANSWER_MARK in step:
            answer = normalize_answer(step.split(ANSWER_MARK, 1)[1])
            break
    else:
        results = [r for r in (step_result(s) for s in steps) if r is not None]
        if results:
            answer = results[-1]
            steps.append(f"{ANSWER_MARK} {answer}")
    # keep only up to the answer line: generators often keep talking after it
    for i, step in enumerate(steps):
        if ANSWER_MARK in step:
            steps = steps[: i + 1]
            break
    return ReasoningPath(steps=steps, answer=answer)


def parse_free_text_steps(text: str, separator: str = "\n") -> ReasoningPath:
    """Free-text reasoning: steps split on ``separator``; the answer from a ``####`` step or
    "the answer is X" in the last step; None when neither is present."""
    if not separator:
        raise ValueError("separator='' is invalid; allowed: a non-empty string")
    steps = [s.strip() for s in text.strip().split(separator) if s.strip()]
    answer = None
    if steps:
        last = steps[-1]
        if ANSWER_MARK in last:
            answer = normalize_answer(last.split(ANSWER_MARK, 1)[1])
        else:
            match = _FREE_TEXT_ANSWER.search(last)
            if match:
                answer = normalize_answer(match.group(1))
    return ReasoningPath(steps=steps, answer=answer)


def extract_answer(text: str) -> str | None:
    """The normalised final answer of a completion (``####`` first, then "answer is", then the
    last calculator result); None when there is none."""
    path = parse_gsm8k_solution(text)
    if path.answer is not None:
        return path.answer
    return parse_free_text_steps(text).answer


# --- TRL stepwise PRM format: {"prompt": str, "completions": [step, ...], "labels": [bool]} ---


def to_prm_rows(problems: Iterable[Problem], labels: Iterable[list[list[int]]]) -> list[dict]:
    """Rows for ``trl.PRMTrainer``: one per path, ``labels[i][j]`` = step labels of path j."""
    rows = []
    for problem, path_labels in zip(problems, labels, strict=True):
        if len(path_labels) != len(problem.paths):
            raise ValueError(
                f"labels for {len(path_labels)} paths; allowed: one list per path "
                f"({len(problem.paths)})"
            )
        for path, step_labels in zip(problem.paths, path_labels, strict=True):
            if len(step_labels) != len(path.steps):
                raise ValueError(
                    f"{len(step_labels)} step labels for a {len(path.steps)}-step path; "
                    "allowed: one label per step"
                )
            rows.append(
                {
                    "prompt": problem.question,
                    "completions": list(path.steps),
                    "labels": [bool(x) for x in step_labels],
                }
            )
    return rows


def from_prm_rows(rows: Iterable[dict]) -> tuple[list[Problem], list[list[list[int]]]]:
    """Group PRM rows by prompt into problems (gold answer = the answer of a fully-correct path,
    else ``""``) and their step labels. Inverse of :func:`to_prm_rows` for the paths."""
    problems: dict[str, Problem] = {}
    labels: dict[str, list[list[int]]] = {}
    for i, row in enumerate(rows):
        missing = [k for k in ("prompt", "completions", "labels") if k not in row]
        if missing:
            raise ValueError(
                f"PRM row {i} is missing {missing}; allowed: prompt/completions/labels"
            )
        if len(row["completions"]) != len(row["labels"]):
            raise ValueError(f"PRM row {i}: completions and labels differ in length")
        steps = [str(s) for s in row["completions"]]
        path = parse_gsm8k_solution("\n".join(steps))
        path = ReasoningPath(steps=steps, answer=path.answer)
        problem = problems.setdefault(row["prompt"], Problem(row["prompt"], ""))
        problem.paths.append(path)
        step_labels = [int(bool(x)) for x in row["labels"]]
        labels.setdefault(row["prompt"], []).append(step_labels)
        if not problem.gold_answer and path.answer is not None and all(step_labels):
            problem.gold_answer = path.answer
    return list(problems.values()), [labels[k] for k in problems]


# --- JSONL ---


def write_jsonl(path: str | os.PathLike, rows: Iterable[dict[str, Any]]) -> None:
    """Write rows atomically as JSON lines."""
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    atomic_write_text(path, text)


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {os.fspath(path)!r}")
    with open(path, encoding="utf-8") as fh:
        rows = []
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise ValueError(f"{os.fspath(path)}:{n} is not JSON ({err.msg})") from None
        return rows


def load_problems(path: str | os.PathLike) -> list[Problem]:
    return [Problem.from_dict(r) for r in read_jsonl(path)]


def save_problems(path: str | os.PathLike, problems: Sequence[Problem]) -> None:
    write_jsonl(path, (p.to_dict() for p in problems))
