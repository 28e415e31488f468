"""How close a compressed embedder stays to the original, on the same held-out sentences."""

from __future__ import annotations

import dataclasses

import torch


@dataclasses.dataclass
class Quality:
    """Agreement of embeddings ``emb`` with the original ``ref`` (both (N, H), normalised)."""

    mean_cosine: float  # mean over sentences of cos(emb_i, ref_i)
    spearman: float  # rank correlation of all pairwise similarities with the original's
    top1_overlap: float  # fraction of sentences whose nearest neighbour is unchanged
    top5_overlap: float  # mean |top5(emb) ∩ top5(ref)| / 5


def _ranks(x: torch.Tensor) -> torch.Tensor:
    ranks = torch.empty_like(x)
    ranks[x.argsort()] = torch.arange(x.numel(), dtype=x.dtype)
    return ranks


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman rank correlation of two 1-D tensors (continuous values: ties are negligible)."""
    ra, rb = _ranks(a.double()), _ranks(b.double())
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float((ra * rb).sum() / (ra.norm() * rb.norm()))


def _neighbours(emb: torch.Tensor, k: int) -> torch.Tensor:
    sims = emb @ emb.t()
    sims.fill_diagonal_(-float("inf"))
    return sims.topk(k, dim=1).indices


def quality(emb: torch.Tensor, ref: torch.Tensor) -> Quality:
    """Compare (N, H) embeddings with the original (N, H) ones (N >= 6)."""
    if emb.shape != ref.shape or emb.shape[0] < 6:
        raise ValueError(f"emb shape {tuple(emb.shape)} must equal ref {tuple(ref.shape)}, N >= 6")
    emb = torch.nn.functional.normalize(emb.float(), dim=-1)
    ref = torch.nn.functional.normalize(ref.float(), dim=-1)
    upper = torch.triu_indices(len(emb), len(emb), offset=1)
    pair_emb = (emb @ emb.t())[upper[0], upper[1]]
    pair_ref = (ref @ ref.t())[upper[0], upper[1]]
    nn_emb, nn_ref = _neighbours(emb, 5), _neighbours(ref, 5)
    top5 = (nn_emb.unsqueeze(2) == nn_ref.unsqueeze(1)).any(2).float().sum(1) / 5
    return Quality(
        mean_cosine=float((emb * ref).sum(-1).mean()),
        spearman=spearman(pair_emb, pair_ref),
        top1_overlap=float((nn_emb[:, 0] == nn_ref[:, 0]).float().mean()),
        top5_overlap=float(top5.mean()),
    )
