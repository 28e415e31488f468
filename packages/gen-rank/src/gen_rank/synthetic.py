"""A seeded synthetic task on which a ranker can help: modular addition chains.

Source: ``"3 + 4 + 2 + 7"`` (a start digit and ``k`` single-digit addends). A careful answer
walks the chain one locally checkable step at a time (``x + d = y`` mod 10) and ends with
``answer y``. The training targets are a *mixture of strategies* (the recipe in the research
notes): ``shortcut_rate`` of them are the shortcut ``S answer <last source digit>`` — one
confident, almost always wrong strategy — and the rest are careful chains in three phrasings
that differ from their first token (``A``: ``x + d = y``, ``B``: ``d + x = y``, ``C``:
``y = x + d``), with a per-step ``slip_rate`` of a random wrong result that the chain then
carries on from. An MLE generator trained on this puts the shortcut on its top beam, while its
samples and lower beams hold careful chains that a ranker can check step by step.

The metric, :func:`chain_metric`, is graded: (correct step results + correct answer) / (k + 1),
against the reference (the careful, slip-free chain).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

PHRASINGS = ("A", "B", "C")
SHORTCUT = "S"
ANSWER = "answer"


def _step_text(phrasing: str, x: int, d: int, y: int) -> str:
    if phrasing == "A":
        return f"{x} + {d} = {y}"
    if phrasing == "B":
        return f"{d} + {x} = {y}"
    return f"{y} = {x} + {d}"


def careful_chain(
    start: int, addends: list[int], phrasing: str = "A", slips: list[int | None] | None = None
) -> str:
    """The careful solution text; ``slips[i]`` (if not None) replaces step i's result."""
    x, parts = start, []
    for i, d in enumerate(addends):
        y = (x + d) % 10
        if slips is not None and slips[i] is not None:
            y = slips[i]
        parts.append(_step_text(phrasing, x, d, y))
        x = y
    return f"{phrasing} " + " ; ".join(parts) + f" ; {ANSWER} {x}"


def _digit(token: str) -> int | None:
    return int(token) if len(token) == 1 and token.isdigit() else None


def parse_chain(text: str) -> tuple[list[int | None], int | None]:
    """(step results in order, final answer) read from a candidate; unreadable parts → None."""
    tokens = text.split()
    answer = None
    if ANSWER in tokens:
        i = len(tokens) - 1 - tokens[::-1].index(ANSWER)
        if i + 1 < len(tokens):
            answer = _digit(tokens[i + 1])
        tokens = tokens[:i]
    if tokens and tokens[0] in (*PHRASINGS, SHORTCUT):
        tokens = tokens[1:]
    results: list[int | None] = []
    for segment in " ".join(tokens).split(";"):
        seg = segment.split()
        if not seg:
            continue
        if "=" not in seg:
            results.append(None)
        elif seg.index("=") == 1:  # "y = x + d"
            results.append(_digit(seg[0]))
        else:  # "x + d = y"
            j = seg.index("=")
            results.append(_digit(seg[j + 1]) if j + 1 < len(seg) else None)
    return results, answer


def chain_metric(candidates: list[str], references: list[str]) -> list[float]:
    """(correct step results + correct answer) / (k + 1) per candidate, in [0, 1]."""
    out = []
    for cand, ref in zip(candidates, references, strict=True):
        true_steps, true_answer = parse_chain(ref)
        steps, answer = parse_chain(cand)
        hits = sum(
            1
            for i, t in enumerate(true_steps)
            if t is not None and i < len(steps) and steps[i] == t
        )
        hits += int(answer is not None and answer == true_answer)
        out.append(hits / (len(true_steps) + 1))
    return out


def chain_step_labels(source: str, candidate: str) -> list[tuple[int, int, float]]:
    """Step-check targets for a ranker's auxiliary head: ``(start, end, label)`` character
    spans of every step result and of the answer in ``candidate``, labelled 1.0 when that
    digit equals the true value for ``source`` (the careful, slip-free chain), else 0.0."""
    numbers = [int(v) for v in source.split() if v.isdigit()]
    x, truth = numbers[0], []
    for d in numbers[1:]:
        x = (x + d) % 10
        truth.append(x)
    spans, pos, words = [], 0, []
    for word in candidate.split():  # character offsets of the whitespace-separated words
        pos = candidate.index(word, pos)
        words.append((word, pos))
        pos += len(word)
    if words and words[0][0] in (*PHRASINGS, SHORTCUT):
        words = words[1:]
    step, seg = 0, []
    for k, (word, start) in enumerate(words):
        if word == ANSWER and k + 1 < len(words):
            value, at = words[k + 1]
            spans.append((at, at + len(value), float(value == str(truth[-1]))))
            break
        if word == ";" or k == len(words) - 1:
            seg = seg + ([] if word == ";" else [(word, start)])
            tokens = [w for w, _ in seg]
            if "=" in tokens and step < len(truth):
                j = tokens.index("=")
                pick = 0 if j == 1 else j + 1
                if pick < len(seg):
                    value, at = seg[pick]
                    spans.append((at, at + len(value), float(value == str(truth[step]))))
            step += 1 if "=" in tokens else 0
            seg = []
        else:
            seg.append((word, start))
    return spans


def exact_match(candidates: list[str], references: list[str]) -> list[float]:
    """1.0 where the candidate's answer and every step result match the reference."""
    return [float(m == 1.0) for m in chain_metric(candidates, references)]


@dataclass(frozen=True)
class ChainTask:
    """The strategy-mixture chain task (see the module docstring). Seeded and deterministic."""

    num_steps: int = 3
    shortcut_rate: float = 0.4
    slip_rate: float = 0.1
    seed: int = 0

    def sample(self, rng: random.Random) -> dict[str, str]:
        """One example: ``source``, noisy training ``target``, clean ``reference``, ``strategy``."""
        start = rng.randrange(10)
        addends = [rng.randrange(1, 10) for _ in range(self.num_steps)]
        source = " + ".join(str(v) for v in [start, *addends])
        reference = careful_chain(start, addends, "A")
        if rng.random() < self.shortcut_rate:
            strategy = SHORTCUT
            target = f"{SHORTCUT} {ANSWER} {addends[-1]}"
        else:
            strategy = rng.choice(PHRASINGS)
            slips: list[int | None] = []
            x = start
            for d in addends:
                y = (x + d) % 10
                if rng.random() < self.slip_rate:
                    y = rng.choice([v for v in range(10) if v != y])
                    slips.append(y)
                else:
                    slips.append(None)
                x = y
            target = careful_chain(start, addends, strategy, slips)
        return {"source": source, "target": target, "reference": reference, "strategy": strategy}

    def rows(self, n: int, split: str = "train") -> list[dict[str, str]]:
        """``n`` examples; different ``split`` names give independent streams."""
        rng = random.Random(f"{self.seed}:{split}")
        return [self.sample(rng) for _ in range(n)]

    def dataset(self, n: int, split: str = "train"):
        """``rows`` as a ``datasets.Dataset``."""
        from datasets import Dataset

        return Dataset.from_list(self.rows(n, split))

    def vocabulary_texts(self) -> list[str]:
        """Texts covering every token of the task (to train a word-level tokenizer)."""
        words = [str(v) for v in range(10)] + ["+", "=", ";", ANSWER, SHORTCUT, *PHRASINGS]
        return [" ".join(words)] * 2

    def tokenizer(self):
        """A word-level tokenizer for the task (no wrapping; pad 0, bos/cls 2, eos/sep 3)."""
        from lmlab_common import train_tokenizer

        return train_tokenizer(self.vocabulary_texts(), kind="wordlevel", vocab_size=64, wrap=None)
