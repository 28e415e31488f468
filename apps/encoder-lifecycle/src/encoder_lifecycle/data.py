"""The real-text data: a pre-training corpus and a classification task split by section.

Task: which part of the Python documentation a sentence comes from. Every help section of the
standard library's ``pydoc_data.topics`` is put in one of five groups; a sentence's label is
its section's group. Whole sections are held out for the test set (so no sentence, and no
section, is seen in training), and the held-out sentences are also left out of the
pre-training corpus.
"""

from __future__ import annotations

import dataclasses
import random
import re

from lmlab_common import english_sentences, require

_STATEMENTS = (
    "assert assignment async augassign break class compound continue del else for function "
    "global if import nonlocal pass raise return try while with yield"
)
_EXPRESSIONS = (
    "atom-identifiers atom-literals attribute-references await binary bitwise booleans calls "
    "comparisons conversions exprlists floating formatstrings id-classes identifiers imaginary "
    "in integers lambda numbers operator-summary power shifting slicings strings subscriptions "
    "unary"
)
_DATA_MODEL = (
    "attribute-access callable-types context-managers customization numeric-types objects "
    "sequence-types specialattrs specialnames types"
)
_BUILTIN_TYPES = (
    "bltin-code-objects bltin-ellipsis-object bltin-null-object bltin-type-objects dict lists "
    "string-methods truth typesfunctions typesmapping typesmethods typesmodules typesseq "
    "typesseq-mutable"
)
_EXECUTION = "debugger dynamic-features exceptions execmodel naming"

# Group name -> help sections (keys of pydoc_data.topics).
GROUPS: dict[str, tuple[str, ...]] = {
    "statements": tuple(_STATEMENTS.split()),
    "expressions": tuple(_EXPRESSIONS.split()),
    "data model": tuple(_DATA_MODEL.split()),
    "built-in types": tuple(_BUILTIN_TYPES.split()),
    "execution and debugging": tuple(_EXECUTION.split()),
}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


@dataclasses.dataclass
class TopicTask:
    """Sentences with group labels; ``test_sections`` never appear in ``train``."""

    train_texts: list[str]
    train_labels: list[int]
    test_texts: list[str]
    test_labels: list[int]
    groups: list[str]
    test_sections: list[str]

    @property
    def majority_accuracy(self) -> float:
        """Accuracy of always predicting the most frequent training label."""
        top = max(set(self.train_labels), key=self.train_labels.count)
        return sum(y == top for y in self.test_labels) / len(self.test_labels)

    def to_dict(self) -> dict:
        counts = {
            g: [self.train_labels.count(i), self.test_labels.count(i)]
            for i, g in enumerate(self.groups)
        }
        return {
            "groups": self.groups,
            "test_sections": self.test_sections,
            "train_test_counts": counts,
            "majority_accuracy": self.majority_accuracy,
        }


def _section_sentences() -> dict[str, list[str]]:
    """Sentences of lmlab-common's topic corpus, each under the first section it occurs in."""
    from pydoc_data.topics import topics

    known = set(english_sentences(source="topics"))
    seen: set[str] = set()
    out: dict[str, list[str]] = {}
    for key in sorted(topics):
        found = []
        for paragraph in re.split(r"\n\s*\n", topics[key]):
            for sentence in _SENTENCE_END.split(" ".join(paragraph.split())):
                if sentence in known and sentence not in seen:
                    seen.add(sentence)
                    found.append(sentence)
        out[key] = found
    return out


def topic_task(test_fraction: float = 0.25, seed: int = 0) -> TopicTask:
    """Five-way group classification; per group, whole sections (in a seeded order) go to the
    test set until it holds about ``test_fraction`` of the group's sentences."""
    by_section = _section_sentences()
    rng = random.Random(seed)
    train, test, held_out = [], [], []
    for label, (group, sections) in enumerate(GROUPS.items()):
        sections = [s for s in sections if by_section.get(s)]
        total = sum(len(by_section[s]) for s in sections)
        order = sorted(sections)
        rng.shuffle(order)
        in_test = 0
        for section in order:
            rows = [(text, label) for text in by_section[section]]
            fits = in_test + len(rows) <= 1.5 * test_fraction * total
            if in_test < test_fraction * total and fits:
                test += rows
                in_test += len(rows)
                held_out.append(section)
            else:
                train += rows
        require(in_test > 0, "test_fraction", test_fraction, f"a value giving {group!r} test rows")
    rng.shuffle(train)
    rng.shuffle(test)
    return TopicTask(
        [t for t, _ in train],
        [y for _, y in train],
        [t for t, _ in test],
        [y for _, y in test],
        list(GROUPS),
        sorted(held_out),
    )


def pretraining_corpus(task: TopicTask, n: int | None = None, seed: int = 0) -> list[str]:
    """Up to ``n`` real English sentences (all offline sources), without the test sentences.

    Raises ``ValueError`` naming ``corpus_sentences`` when fewer are available.
    """
    held_out = set(task.test_texts)
    pool = [s for s in english_sentences(source="all", seed=seed) if s not in held_out]
    require(
        n is None or n <= len(pool),
        "corpus_sentences",
        n,
        f"at most {len(pool)} (the real sentences available offline, minus the held-out test "
        "sentences)",
    )
    return pool if n is None else pool[:n]
