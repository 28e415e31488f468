"""RTD metrics (accuracy, ROC AUC, replaced fraction) and embedding-geometry statistics."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch


def roc_auc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """ROC AUC of ``scores`` for binary ``labels`` (1-D), with tied scores counted half.

    NaN when only one class is present.
    """
    scores = scores.detach().float().flatten()
    labels = labels.detach().flatten().bool()
    n_pos = int(labels.sum())
    n_neg = labels.numel() - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = scores.argsort()
    sorted_scores = scores[order]
    ranks = torch.empty_like(scores)
    ranks[order] = torch.arange(1, scores.numel() + 1, dtype=torch.float)
    # average ranks over ties
    uniq, inverse, counts = torch.unique_consecutive(
        sorted_scores, return_inverse=True, return_counts=True
    )
    ends = counts.cumsum(0).float()
    avg = ends - (counts.float() - 1) / 2
    ranks[order] = avg[inverse]
    rank_sum = ranks[labels].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def rtd_metrics(
    logits: torch.Tensor, labels: torch.Tensor, attention_mask: torch.Tensor | None = None
) -> dict[str, float]:
    """Accuracy (threshold 0), AUC and replaced fraction over non-padding tokens."""
    keep = (
        torch.ones_like(labels, dtype=torch.bool) if attention_mask is None else attention_mask > 0
    )
    s, y = logits.detach()[keep].float(), labels[keep].long()
    acc = float(((s > 0).long() == y).float().mean()) if y.numel() else float("nan")
    return {
        "rtd_accuracy": acc,
        "rtd_auc": roc_auc(s, y),
        "replaced_fraction": float(y.float().mean()) if y.numel() else float("nan"),
    }


@dataclass
class EmbeddingStats:
    """Cosine geometry of a generator table E_G and a discriminator table E_D (both (V, D)).

    ``*_mean_cos``: mean pairwise cosine over distinct rows; ``*_within_cos``: the same within
    groups (e.g. synonym clusters) when groups are given; ``gd_row_cos``: mean cosine of each
    token's E_G row with its E_D row (1.0 when they are equal, as under ES).
    """

    g_mean_cos: float
    d_mean_cos: float
    gd_row_cos: float
    g_within_cos: float | None = None
    d_within_cos: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _mean_pairwise_cos(table: torch.Tensor) -> float:
    x = torch.nn.functional.normalize(table.float(), dim=-1)
    n = x.shape[0]
    if n < 2:
        return float("nan")
    total = x.sum(0)
    return float((total @ total - (x * x).sum()) / (n * (n - 1)))


def embedding_stats(
    e_g: torch.Tensor, e_d: torch.Tensor, rows: list[int] | None = None,
    groups: list[list[int]] | None = None,
) -> EmbeddingStats:  # fmt: skip
    """:class:`EmbeddingStats` over ``rows`` (default: all rows; pass the real-token ids to
    leave special tokens out)."""
    idx = torch.as_tensor(rows if rows is not None else range(e_g.shape[0]), dtype=torch.long)
    g, d = e_g.detach()[idx].float(), e_d.detach()[idx].float()
    row = torch.nn.functional.cosine_similarity(g, d, dim=-1).mean()
    within_g = within_d = None
    if groups:
        within_g = sum(_mean_pairwise_cos(e_g.detach()[grp]) for grp in groups) / len(groups)
        within_d = sum(_mean_pairwise_cos(e_d.detach()[grp]) for grp in groups) / len(groups)
    return EmbeddingStats(_mean_pairwise_cos(g), _mean_pairwise_cos(d), float(row), within_g,
                          within_d)  # fmt: skip
