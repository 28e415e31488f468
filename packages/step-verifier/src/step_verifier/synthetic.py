"""A seeded synthetic GSM8K-style task where DIVERSE's premises hold by construction.

Question: ``ann has 3 pens , gets 4 , 7 and 2 more . pens mod ten ?`` (2-4 single-digit
additions mod 10). Gold solution, calculator format, one step per line::

    step << 3 + 4 = 7 >> 7
    step << 7 + 7 = 4 >> 4
    step << 4 + 2 = 6 >> 6
    #### 6

Generator training solutions mix *strategies* that differ from their first token: a confident
shortcut (``guess``: one step, then the question's last number as the answer — usually wrong)
with probability ``shortcut_rate``, else a careful solution in one of three phrasings
(lines led by ``step``, ``add`` or ``so``), each step slipping to a random
wrong digit with probability ``slip_rate`` (the error propagates), and with probability
``systematic_rate`` a careful solution that subtracts instead of adding at every step. Checking
one step is a 100-entry table, so a small verifier can learn it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from lmlab_common import ConfigBase, require, require_int, require_range
from tokenizers import Regex, Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from .data import Problem, ReasoningPath, parse_gsm8k_solution
from .prompting import render_context

NAMES = ("ann", "bob", "cy", "dee", "eve", "fay", "gus", "hal")
OBJECTS = ("pens", "cats", "cups", "eggs", "hats", "keys", "nuts", "toys")
PHRASINGS = ("step", "add", "so")
SHORTCUT = "guess"
SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "%%")
_PIECES = r"\n|<<|>>|####|%%|\[[A-Z]+\]|[A-Za-z]+|\d|[^\sA-Za-z\d]"


@dataclass
class SyntheticConfig(ConfigBase):
    """The task and the generator-training mixture (defaults: small-scale-claims recipe)."""

    min_steps: int = 2
    max_steps: int = 4
    max_addend: int = field(
        default=9,
        metadata={"help": "addends are 1..max_addend (the step table has 10×max_addend entries)"},
    )
    shortcut_rate: float = field(default=0.35, metadata={"help": "share of shortcut solutions"})
    slip_rate: float = field(default=0.1, metadata={"help": "per-step slip of careful solutions"})
    systematic_rate: float = field(
        default=0.0, metadata={"help": "share of careful solutions that subtract at every step"}
    )

    def __post_init__(self) -> None:
        require_int("min_steps", self.min_steps, low=1, high=8)
        require_int("max_steps", self.max_steps, low=self.min_steps, high=8)
        require_int("max_addend", self.max_addend, low=1, high=9)
        for name in ("shortcut_rate", "slip_rate", "systematic_rate"):
            require_range(name, getattr(self, name), 0.0, 1.0)


@dataclass
class SyntheticProblem:
    name: str
    obj: str
    start: int
    addends: list[int]

    @property
    def question(self) -> str:
        *head, last = self.addends
        listed = " , ".join(str(d) for d in head)
        listed = f"{listed} and {last}" if head else str(last)
        return (
            f"{self.name} has {self.start} {self.obj} , gets {listed} more . {self.obj} mod ten ?"
        )

    @property
    def answer(self) -> str:
        return str((self.start + sum(self.addends)) % 10)


def render_step(phrasing: str, x: int, d: int, y: int) -> str:
    # the phrasings differ in their words only, so every strategy puts the numbers at the same
    # offsets (a tiny generator learns one copy pattern)
    return f"{phrasing} << {x} + {d} = {y} >> {y}"


class SyntheticTask:
    """Seeded problems and strategy-mixture solutions; ``tokenizer()`` covers every text."""

    def __init__(self, config: SyntheticConfig | None = None, seed: int = 0) -> None:
        self.config = config or SyntheticConfig()
        self.rng = random.Random(seed)

    def problem(self) -> SyntheticProblem:
        rng, c = self.rng, self.config
        k = rng.randint(c.min_steps, c.max_steps)
        return SyntheticProblem(
            rng.choice(NAMES), rng.choice(OBJECTS), rng.randrange(10),
            [rng.randint(1, c.max_addend) for _ in range(k)],
        )  # fmt: skip

    def gold_solution(self, p: SyntheticProblem) -> str:
        return self._careful(p, "step", slip_rate=0.0, subtract=False)

    def _careful(self, p: SyntheticProblem, phrasing: str, slip_rate: float, subtract: bool):
        lines, x = [], p.start
        for d in p.addends:
            y = (x - d) % 10 if subtract else (x + d) % 10
            if self.rng.random() < slip_rate:
                y = self.rng.choice([v for v in range(10) if v != y])
            lines.append(render_step(phrasing, x, d, y))
            x = y
        return "\n".join(lines + [f"#### {x}"])

    def generator_solution(self, p: SyntheticProblem) -> tuple[str, str]:
        """One training solution from the strategy mixture; returns (strategy, text)."""
        c = self.config
        if self.rng.random() < c.shortcut_rate:
            y = (p.start + p.addends[0]) % 10
            step = render_step(SHORTCUT, p.start, p.addends[0], y)
            return SHORTCUT, f"{step}\n#### {p.addends[-1]}"
        phrasing = self.rng.choice(PHRASINGS)
        subtract = self.rng.random() < c.systematic_rate
        return phrasing, self._careful(p, phrasing, c.slip_rate, subtract)

    def problems(self, n: int, paths: int = 0) -> list[Problem]:
        """``n`` problems with gold answers and gold solutions; with ``paths > 0`` each also
        gets that many paths drawn from the strategy mixture itself (what a generator that
        learned the mixture perfectly would sample)."""
        require_int("n", n, low=0)
        require_int("paths", paths, low=0)
        out = []
        for _ in range(n):
            p = self.problem()
            problem = Problem(p.question, p.answer, parse_gsm8k_solution(self.gold_solution(p)))
            problem.paths = [
                parse_gsm8k_solution(self.generator_solution(p)[1]) for _ in range(paths)
            ]
            out.append(problem)
        return out

    def generator_corpus(self, n: int) -> list[tuple[str, str]]:
        """``n`` (context, solution) pairs for training a generator on the mixture."""
        require_int("n", n, low=1)
        pairs = []
        for _ in range(n):
            p = self.problem()
            pairs.append((render_context("", p.question), self.generator_solution(p)[1]))
        return pairs


def strategy_of(path: ReasoningPath) -> str:
    """The strategy a path took (its first word), or ``"other"``."""
    if not path.steps:
        return "other"
    first = path.steps[0].split(" ", 1)[0]
    return first if first in (SHORTCUT, *PHRASINGS) else "other"


def synthetic_tokenizer(model_max_length: int = 256) -> PreTrainedTokenizerFast:
    """A word-level tokenizer over the task's closed vocabulary (newline is a token; digits,
    ``<<``, ``>>``, ``####`` and the step marker ``%%`` are single tokens)."""
    words = ["\n", "<<", ">>", "####", ":", ",", ".", "?", "+", "=", "Question", "Answer"]
    words += list(NAMES) + list(OBJECTS) + list(PHRASINGS) + [SHORTCUT]
    words += ["has", "gets", "and", "more", "mod", "ten", "plus", "makes"]
    words += [str(d) for d in range(10)]
    vocab = {tok: i for i, tok in enumerate(SPECIALS)}
    for w in words:
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(r"[ \t]+"), behavior="removed"),
            pre_tokenizers.Split(Regex(_PIECES), behavior="isolated"),
        ]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        bos_token="[CLS]",
        eos_token="[SEP]",
        model_max_length=model_max_length,
    )
    require(fast.convert_tokens_to_ids("%%") == 5, "vocab", "%%", "id 5")
    return fast
