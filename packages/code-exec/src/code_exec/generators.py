"""Seeded generators of small Python programs for the paper's three tiers.

* ``singleline``: one line of 1-3 ``;``-joined statements (SingleLine-like; target = state).
* ``tutorial``: 3-8 lines, straight-line code plus one loop or branch, a print (Tutorial-like).
* ``mutated``: originals from :func:`original_program` (CodeNet-like, a little richer) turned
  into mutants by :mod:`code_exec.mutation` (CodeNetMut-like) -- see :mod:`code_exec.data`.

Every generator is a pure function of its ``random.Random``; programs always terminate.
"""

from __future__ import annotations

import random
import re

TIERS = ("singleline", "tutorial", "mutated")
NAMES = ("a", "b", "c", "n", "t", "x", "y", "s")
OPS = ("+", "-", "*")  # originals use these; mutation also brings // and %


def _expr(rng: random.Random, known: list[str]) -> str:
    left = rng.choice(known) if known and rng.random() < 0.7 else str(rng.randint(0, 9))
    right = rng.choice(known) if known and rng.random() < 0.3 else str(rng.randint(1, 9))
    return f"{left} {rng.choice(OPS)} {right}"


def singleline_program(rng: random.Random) -> str:
    names = rng.sample(NAMES, 3)
    parts = [f"{names[0]} = {rng.randint(0, 9)}"]
    known = [names[0]]
    for name in names[1 : rng.randint(2, 3)]:
        if rng.random() < 0.25:
            parts.append(f"{name} = [{known[-1]}, {rng.randint(0, 9)}]")
        else:
            parts.append(f"{name} = {_expr(rng, known)}")
        known.append(name)
    return "; ".join(parts)


def _loop_block(rng: random.Random, known: list[str], acc: str) -> list[str]:
    kind = rng.choice(("for", "for_if", "while", "list"))
    bound = rng.choice(known) if known and rng.random() < 0.3 else str(rng.randint(2, 4))
    if kind == "for":
        return [
            f"for i in range({bound}):",
            f"    {acc} += i {rng.choice(OPS)} {rng.randint(1, 3)}",
        ]
    if kind == "for_if":
        return [
            f"for i in range({rng.randint(2, 4)}):",
            f"    if i % 2 == {rng.randint(0, 1)}:",
            f"        {acc} += i",
            "    else:",
            f"        {acc} -= {rng.randint(1, 2)}",
        ]
    if kind == "while":
        return [
            "k = 0",
            f"while k < {rng.randint(2, 3)}:",
            f"    {acc} = {acc} {rng.choice(OPS)} {rng.randint(1, 3)}",
            "    k += 1",
        ]
    return ["r = []", f"for i in range({rng.randint(2, 3)}):", f"    r.append(i * {acc})"]


def tutorial_program(rng: random.Random) -> str:
    names = rng.sample(("a", "b", "c", "n", "x"), 2)
    lines = [f"{names[0]} = {rng.randint(0, 9)}", f"{names[1]} = {_expr(rng, names[:1])}"]
    if rng.random() < 0.5:
        lines += _loop_block(rng, names, names[1])
    else:
        lines += [
            f"if {names[0]} > {rng.randint(0, 9)}:",
            f"    {names[1]} = {_expr(rng, names)}",
            "else:",
            f"    {names[1]} = {_expr(rng, names)}",
        ]
    lines.append(f"print({rng.choice(names)})")
    return "\n".join(lines) + "\n"


def original_program(rng: random.Random) -> str:
    """A CodeNet-like original for mutation: an accumulator, a loop with a branch, a print."""
    acc = rng.choice(("t", "s"))
    lines = [f"n = {rng.randint(2, 4)}", f"{acc} = {rng.randint(0, 5)}"]
    lines += _loop_block(rng, ["n"], acc)
    if rng.random() < 0.5:
        lines += [f"if {acc} > {rng.randint(0, 9)}:", f"    {acc} = {acc} - n"]
    lines.append(f"print({acc})")
    return "\n".join(lines) + "\n"


def small_original_program(rng: random.Random) -> str:
    """A 3-5 line original without loops (few steps: short traces for CPU-scale claims)."""
    lines = [f"n = {rng.randint(1, 6)}", f"t = {_expr(rng, ['n'])}"]
    if rng.random() < 0.7:
        lines += [f"if t > {rng.randint(2, 9)}:", f"    t = t {rng.choice(OPS)} n"]
    lines.append(f"s = {_expr(rng, ['n', 't'])}")
    return "\n".join(lines) + "\n"


GENERATORS = {
    "singleline": singleline_program,
    "tutorial": tutorial_program,
    "mutated": original_program,
    "mutated_small": small_original_program,
}


def program_rng(seed: int, tier: str, index: int) -> random.Random:
    """The generator for program ``index`` of ``tier``: independent of how work is chunked."""
    return random.Random(f"{seed}:{tier}:{index}")


_TOKEN = re.compile(r"\d+\.\d+|\w+|==|!=|<=|>=|//=|//|\*\*|[-+*/%]=|\S")


def code_to_text(code: str) -> str:
    """Model input: ``<k>`` before each line (official code_tokens), ``<indent>`` per level."""
    out = []
    for k, line in enumerate(code.splitlines()):
        if not line.strip():
            continue
        level = (len(line) - len(line.lstrip(" "))) // 4
        out.append(f"<{k}>" + " <indent>" * level + " " + " ".join(_TOKEN.findall(line)))
    return " ".join(out)
