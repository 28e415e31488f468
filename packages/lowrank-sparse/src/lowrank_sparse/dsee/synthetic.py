"""A small seeded sentence-classification task for DSEE's claim test and ``dsee-reproduce``.

Sentiment with negation and distractors: "the service was not terrible, said my friend" is
positive. The label is the adjective's polarity flipped by a negation, so a frozen encoder with
a linear head does not solve it and the encoder has to adapt. Real English sentences from
``pydoc_data`` are mixed in as context so inputs are not purely templated.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from lmlab_common import english_sentences, require

SUBJECTS = [
    "the film", "the service", "the food", "the hotel", "the book", "the concert", "the game",
    "the lecture", "the trip", "the app", "the meeting", "the course", "the show", "the car",
    "the phone", "the room", "the staff", "the song", "the update", "the design",
]  # fmt: skip
POSITIVE = [
    "great", "excellent", "wonderful", "pleasant", "brilliant", "superb", "delightful",
    "enjoyable", "impressive", "good", "lovely", "fantastic",
]  # fmt: skip
NEGATIVE = [
    "terrible", "awful", "boring", "dreadful", "poor", "disappointing", "horrible", "bad",
    "annoying", "mediocre", "painful", "useless",
]  # fmt: skip
NEGATIONS = ["not", "never", "hardly", "by no means"]
TAILS = ["", ", said my friend", ", I think", " overall", ", honestly", " this time"]
TEMPLATES = [
    "{s} was {n}{a}{t}.",
    "I found {s} {n}{a}{t}.",
    "Everyone agreed that {s} was {n}{a}{t}.",
    "In the end {s} seemed {n}{a}{t}.",
]


@dataclass
class SentimentExample:
    text: str
    label: int  # 1 positive, 0 negative


def negation_sentiment(n: int, seed: int = 0, context: float = 0.5) -> list[SentimentExample]:
    """``n`` balanced examples; with probability ``context`` a real sentence is prepended."""
    require(isinstance(n, int) and n > 0, "n", n, "an int > 0")
    require(0.0 <= context <= 1.0, "context", context, "a number in [0, 1]")
    rng = random.Random(seed)
    real = list(english_sentences(seed=seed, max_chars=90))
    out = []
    for i in range(n):
        positive_adj = rng.random() < 0.5
        negated = rng.random() < 0.5
        adj = rng.choice(POSITIVE if positive_adj else NEGATIVE)
        neg = rng.choice(NEGATIONS) + " " if negated else ""
        text = rng.choice(TEMPLATES).format(
            s=rng.choice(SUBJECTS), n=neg, a=adj, t=rng.choice(TAILS)
        )
        text = text[0].upper() + text[1:]
        if rng.random() < context:
            text = real[i % len(real)] + " " + text
        out.append(SentimentExample(text, int(positive_adj != negated)))
    return out
