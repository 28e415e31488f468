"""A seeded synthetic corpus in which MLM and RTD pull the embeddings apart.

Word types come in clusters of synonyms. A sparse Markov chain over clusters fixes the order of
clusters in a sentence; a per-sentence latent *register* picks which members of every cluster
are preferred. MLM is served by embeddings where synonyms are close (any member of the right
cluster is a good guess, the register only sharpens it), while RTD must tell apart in-cluster
replacements that break the sentence's register, which pushes synonyms apart.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from lmlab_common import require_int, require_range


@dataclass
class SynonymCorpus:
    """``n_clusters × cluster_size`` words ``c{k}_{j}``; ``n_registers`` registers, each
    preferring ``cluster_size // n_registers`` members of every cluster with probability
    ``register_strength``. Sentences are ``min_len..max_len`` words long."""

    n_clusters: int = 48
    cluster_size: int = 8
    n_registers: int = 4
    register_strength: float = 0.9
    successors: int = 3
    min_len: int = 24
    max_len: int = 32
    seed: int = 0
    _next: list[list[int]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        require_int("n_clusters", self.n_clusters, 2)
        require_int("cluster_size", self.cluster_size, 2)
        require_int("n_registers", self.n_registers, 1, self.cluster_size)
        require_range("register_strength", self.register_strength, 0.0, 1.0)
        require_int("successors", self.successors, 1, self.n_clusters)
        require_int("min_len", self.min_len, 2)
        require_int("max_len", self.max_len, self.min_len)
        rng = random.Random(self.seed)
        self._next = [rng.sample(range(self.n_clusters), self.successors)
                      for _ in range(self.n_clusters)]  # fmt: skip

    @property
    def words(self) -> list[str]:
        return [self.word(k, j) for k in range(self.n_clusters) for j in range(self.cluster_size)]

    def word(self, cluster: int, member: int) -> str:
        return f"c{cluster}m{member}"

    def clusters(self) -> list[list[str]]:
        """The synonym groups as word lists."""
        return [[self.word(k, j) for j in range(self.cluster_size)] for k in range(self.n_clusters)]

    def preferred(self, register: int) -> list[int]:
        per = self.cluster_size // self.n_registers
        return list(range(register * per, (register + 1) * per))

    def sentence(self, rng: random.Random, register: int | None = None) -> tuple[str, int]:
        """One sentence and its register."""
        register = rng.randrange(self.n_registers) if register is None else register
        pref = self.preferred(register)
        cluster = rng.randrange(self.n_clusters)
        out = []
        for _ in range(rng.randint(self.min_len, self.max_len)):
            if rng.random() < self.register_strength:
                member = rng.choice(pref)
            else:
                member = rng.randrange(self.cluster_size)
            out.append(self.word(cluster, member))
            cluster = rng.choice(self._next[cluster])
        return " ".join(out), register

    def sentences(self, n: int, seed: int = 1) -> list[str]:
        rng = random.Random(seed)
        return [self.sentence(rng)[0] for _ in range(n)]

    def labelled(self, n: int, seed: int = 2) -> tuple[list[str], list[int]]:
        """``n`` sentences with their register as the label (the downstream task)."""
        rng = random.Random(seed)
        pairs = [self.sentence(rng) for _ in range(n)]
        return [p[0] for p in pairs], [p[1] for p in pairs]
