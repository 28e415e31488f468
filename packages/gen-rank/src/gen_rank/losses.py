"""The generator's reward and hybrid loss (official ``compute_loss_generator``)."""

from __future__ import annotations

import torch


def centre(values: torch.Tensor, normalize: bool = False) -> torch.Tensor:
    """``values (B, C)`` minus the per-source mean (the mean includes the sample itself, as
    the official code); divided by the per-source std + 1e-7 when ``normalize``."""
    out = values - values.mean(dim=1, keepdim=True)
    if normalize:
        out = out / (values.std(dim=1, keepdim=True, unbiased=False) + 1e-7)
    return out


def compute_rewards(
    ranker_scores: torch.Tensor | None,
    metric_scores: torch.Tensor,
    ranker_scaler: float = 1.5,
    metric_scaler: float = 1.5,
    normalize: bool = False,
) -> torch.Tensor:
    """``r = a·centre(s) + b·centre(m)``, shape ``(B, C)``; ``ranker_scores`` may be None when
    ``ranker_scaler`` is 0 (metric-only reward)."""
    reward = metric_scaler * centre(metric_scores.float(), normalize)
    if ranker_scaler:
        if ranker_scores is None:
            raise ValueError("ranker_scores=None is invalid when ranker_scaler > 0")
        reward = reward + ranker_scaler * centre(ranker_scores.float(), normalize)
    return reward


def policy_gradient_loss(
    logp: torch.Tensor, mask: torch.Tensor, rewards: torch.Tensor
) -> torch.Tensor:
    """``mean over (candidate, token) in mask of −r_c · log p(ŷ_{c,t})``.

    ``logp``/``mask`` ``(B*C, T)``; ``rewards`` ``(B, C)`` (row ``b*C + c`` is candidate ``c``
    of source ``b``). With an all-ones mask this is the official mean over every position.
    """
    r = rewards.reshape(-1, 1).to(logp.dtype).detach()
    m = mask.to(logp.dtype)
    return -(r * logp * m).sum() / m.sum().clamp(min=1.0)
