"""A seeded toy programming language whose infilling constraint crosses the hole.

A program (space-separated words)::

    c = 4 ; k = 7 ; v : list           # prefix: 1-3 definitions, then a typed declaration
    new_list ( ) cast_set              # middle: construct the declared type, cast to the target
    set ; print v ;                    # suffix: the annotated target type, then a use

The middle's first word is fixed by the prefix (the declared type), its last word only by the
suffix (the target type): a left-to-right model can at best guess the cast (1 of
``num_types``), a right-to-left model the constructor. The dependencies sit next to the
hole (bigram-level), so a tiny model learns them within a few CPU-minutes.
:func:`check_program` decides validity (every statement parses, names are defined before
use, constructor and cast match the declared and target types); exact match compares with
the reference.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

from lmlab_common import require_int, train_tokenizer

KEYWORDS = ("=", ";", ":", "(", ")", "print")
DIGITS = tuple(string.digits)
TYPES = ("int", "str", "list", "dict", "set", "bool", "float", "bytes", "tuple", "range")


@dataclass(frozen=True)
class Program:
    """One program split at the hole (lists of words)."""

    prefix: list[str]
    middle: list[str]
    suffix: list[str]

    @property
    def words(self) -> list[str]:
        return self.prefix + self.middle + self.suffix

    @property
    def text(self) -> str:
        return " ".join(self.words)


class ToyPrograms:
    """Seeded generator of :class:`Program` s over ``num_names`` names and ``num_types`` types."""

    def __init__(
        self, num_names: int = 16, min_defs: int = 1, max_defs: int = 3, num_types: int = 8
    ) -> None:
        require_int("num_names", num_names, max_defs + 1, 26)
        require_int("min_defs", min_defs, 0)
        require_int("max_defs", max_defs, min_defs)
        require_int("num_types", num_types, 2, len(TYPES))
        self.names = list(string.ascii_lowercase[:num_names])
        self.types = list(TYPES[:num_types])
        self.min_defs, self.max_defs = min_defs, max_defs

    @property
    def vocabulary(self) -> list[str]:
        makers = [f"new_{t}" for t in self.types] + [f"cast_{t}" for t in self.types]
        return [*KEYWORDS, *DIGITS, *self.names, *self.types, *makers]

    def sample(self, rng: random.Random) -> Program:
        k = rng.randint(self.min_defs, self.max_defs)
        names = rng.sample(self.names, k + 1)
        prefix: list[str] = []
        for name in names[:k]:
            prefix += [name, "=", rng.choice(DIGITS), ";"]
        var = names[k]
        declared, target = rng.choice(self.types), rng.choice(self.types)
        prefix += [var, ":", declared]
        middle = [f"new_{declared}", "(", ")", f"cast_{target}"]
        suffix = [target, ";", "print", var, ";"]
        if k and rng.random() < 0.5:
            suffix = suffix[:2] + ["print", rng.choice(names[:k]), ";"] + suffix[2:]
        return Program(prefix, middle, suffix)

    def programs(self, n: int, seed: int) -> list[Program]:
        rng = random.Random(seed)
        return [self.sample(rng) for _ in range(n)]


def check_program(words: list[str]) -> bool:
    """True if every statement parses and checks.

    Statements: ``NAME = DIGIT ;`` | ``print NAME ;`` (NAME defined before) |
    ``NAME : T new_T ( ) cast_U U ;`` (constructor of the declared type T, cast to the
    annotated target type U).
    """
    defined: set[str] = set()
    statements: list[list[str]] = [[]]
    for w in words:
        if w == ";":
            statements.append([])
        else:
            statements[-1].append(w)
    if statements[-1]:
        return False  # unterminated last statement
    for st in statements[:-1]:
        if len(st) == 3 and st[1] == "=" and _is_name(st[0]) and st[2] in DIGITS:
            defined.add(st[0])
        elif len(st) == 2 and st[0] == "print" and _is_name(st[1]):
            if st[1] not in defined:
                return False
        elif (
            len(st) == 8
            and _is_name(st[0])
            and (st[1], st[4], st[5]) == (":", "(", ")")
            and st[2] in TYPES
            and st[7] in TYPES
            and st[3] == f"new_{st[2]}"
            and st[6] == f"cast_{st[7]}"
        ):
            defined.add(st[0])
        else:
            return False
    return True


def _is_name(word: str) -> bool:
    return len(word) == 1 and word in string.ascii_lowercase


def toy_tokenizer(task: ToyPrograms | None = None):
    """A word-level ``PreTrainedTokenizerFast`` over the toy language (no special wrapping)."""
    task = task or ToyPrograms()
    return train_tokenizer([" ".join(task.vocabulary)], kind="wordlevel", wrap=None, vocab_size=512)
