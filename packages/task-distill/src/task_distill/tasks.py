"""Seeded tasks for tests and ``reproduce``: two synthetic ones and one on real English text.

**Nuisance classification.** Every token is a (content, style) pair, id ``5 + c·S + s``. The
label is whether "positive" contents outnumber "negative" ones; it is independent of the
styles. The teacher carries large random codes of two nuisance variables (each token's style
and its position) in its embeddings, so its raw states at every layer are dominated by
task-irrelevant variance — the premise of TED. With 16 styles and up to 14 positions the
nuisance spans more directions than a 16-wide student has.

**Markov LM.** Sequences from a seeded sparse second-order Markov chain, for the causal-LM
continual pre-training scenario.

**Sentence topic** (:class:`SentenceTask`). Real English sentences (lmlab-common's, from the
Python documentation), tokenized by a word-level tokenizer trained locally; the label is
whether a sentence talks about objects and their structure (it contains one of
:data:`TOPIC_WORDS`). Nothing here is built for TED's premise: a user's task.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch
from datasets import Dataset
from lmlab_common import english_sentences, require, train_tokenizer

from .data import PadCollator

N_SPECIAL, CLS_ID, SEP_ID = 5, 2, 3


@dataclass
class NuisanceTask:
    """Sizes of the nuisance classification task (all seeded by ``seed``)."""

    n_contents: int = 8
    n_styles: int = 8
    min_len: int = 12
    max_len: int = 16
    seed: int = 0

    @property
    def vocab_size(self) -> int:
        return N_SPECIAL + self.n_contents * self.n_styles

    def content_signs(self) -> np.ndarray:
        rng = np.random.default_rng(self.seed + 7919)
        signs = np.array(
            [1] * (self.n_contents // 2) + [-1] * (self.n_contents - self.n_contents // 2)
        )
        return rng.permutation(signs)

    def dataset(self, n: int, split_seed: int) -> Dataset:
        """``n`` examples: ``input_ids`` ([CLS] tokens [SEP]), ``labels``, ``styles``."""
        rng = np.random.default_rng([self.seed, split_seed])
        signs = self.content_signs()
        rows: dict[str, list] = {"input_ids": [], "labels": [], "styles": []}
        while len(rows["labels"]) < n:
            length = int(rng.integers(self.min_len, self.max_len + 1))
            contents = rng.integers(0, self.n_contents, length)
            score = int(signs[contents].sum())
            if score == 0:
                continue  # no ties: the label is always defined
            styles = rng.integers(0, self.n_styles, length)
            ids = N_SPECIAL + contents * self.n_styles + styles
            rows["input_ids"].append([CLS_ID, *ids.tolist(), SEP_ID])
            rows["labels"].append(int(score > 0))
            rows["styles"].append([0, *styles.tolist(), 0])
        return Dataset.from_dict(rows)


def iterate_batches(ds: Dataset, batch_size: int, seed: int, causal_lm: bool = False):
    """Endless shuffled batches of ``ds`` (``styles`` padded alongside when present)."""
    collate = PadCollator(causal_lm=causal_lm)
    g = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(len(ds), generator=g).tolist()
        for i in range(0, len(order) - batch_size + 1, batch_size):
            rows = [ds[j] for j in order[i : i + batch_size]]
            batch = collate([{k: r[k] for k in ("input_ids", "labels") if k in r} for r in rows])
            if "styles" in rows[0]:
                batch["styles"] = PadCollator()([{"input_ids": r["styles"]} for r in rows])[
                    "input_ids"
                ]
            yield batch


def markov_lm_dataset(
    n: int,
    seq_len: int = 32,
    n_tokens: int = 48,
    branching: int = 3,
    seed: int = 0,
    split_seed: int = 0,
) -> Dataset:
    """Sequences from a seeded sparse 2nd-order Markov chain over ``n_tokens`` symbols.

    Each (previous, current) pair allows ``branching`` next symbols with random probabilities.
    Token ids start after the 5 special ids; every row starts with [CLS] (bos).
    """
    rng = np.random.default_rng(seed)
    nxt = rng.integers(0, n_tokens, (n_tokens, n_tokens, branching))
    prob = rng.dirichlet(np.ones(branching), (n_tokens, n_tokens))
    r = np.random.default_rng([seed, split_seed, 1])
    rows = []
    for _ in range(n):
        a, b = (int(x) for x in r.integers(0, n_tokens, 2))
        seq = [a, b]
        for _ in range(seq_len - 2):
            c = int(nxt[a, b, r.choice(branching, p=prob[a, b])])
            seq.append(c)
            a, b = b, c
        rows.append([CLS_ID, *(N_SPECIAL + x for x in seq)])
    return Dataset.from_dict({"input_ids": rows})


TOPIC_WORDS = frozenset(
    [
        "object",
        "objects",
        "class",
        "classes",
        "method",
        "methods",
        "instance",
        "instances",
        "attribute",
        "attributes",
        "type",
        "types",
    ]
)


@dataclass
class SentenceTask:
    """Binary topic classification of real English sentences (see the module docstring)."""

    vocab_size: int = 1500
    n_test: int = 600
    seed: int = 0

    def __post_init__(self) -> None:
        require(self.vocab_size > 10, "vocab_size", self.vocab_size, "an int > 10")
        require(self.n_test > 0, "n_test", self.n_test, "an int > 0")

    @staticmethod
    def label(sentence: str) -> int:
        return int(bool(TOPIC_WORDS & set(re.findall(r"[a-z]+", sentence.lower()))))

    def build(self) -> tuple[Dataset, Dataset, object]:
        """``(train, test, tokenizer)``: datasets with ``input_ids``, ``labels``, ``text``.

        The sentences are shuffled by ``seed``; the last ``n_test`` are the test split and the
        tokenizer is trained on the train split only.
        """
        sentences = list(english_sentences(seed=self.seed))
        require(len(sentences) > self.n_test + 100, "n_test", self.n_test, "leave >= 100 to train")
        train_text, test_text = sentences[: -self.n_test], sentences[-self.n_test :]
        tok = train_tokenizer(train_text, vocab_size=self.vocab_size, lowercase=True)

        def encode(texts: list[str]) -> Dataset:
            ids = tok(texts, truncation=True, max_length=64)["input_ids"]
            return Dataset.from_dict(
                {"input_ids": ids, "labels": [self.label(t) for t in texts], "text": texts}
            )

        return encode(train_text), encode(test_text), tok
