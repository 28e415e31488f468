"""All loss maths of TED and its baselines, as plain functions and small modules.

Everything here works on tensors (and bare encoders / decoders: any model that returns
``hidden_states``), so it can be reused in a custom training loop without the Trainers:

- :func:`kd_loss`: T²-scaled KL(teacher ‖ student) on logits (the official KD term).
- :func:`layer_mse_loss`: MSE between two lists of per-layer states, optionally masking padding.
- :func:`ted_loss`: task + α_KL·KD + α_layer·layer MSE, the stage-II objective.
- :func:`make_filter`: one task-aware filter (linear, or Linear→act→Linear).
- :func:`classification_loss`, :func:`causal_lm_loss`: the task losses used by both stages.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from transformers.activations import ACT2FN


def kd_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    temperature: float = 2.0,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """``T² · KL(softmax(z_T/T) ‖ softmax(z_S/T))``, averaged over rows ("batchmean").

    Logits are ``(..., C)``; every leading position is one row (``(B, C)`` for classification,
    ``(B, T, V)`` for language modelling). ``mask`` (``(...)``, 1 = keep) drops rows, e.g.
    padding or ignored LM positions. The teacher side is detached. With ``C == 1`` the KL is
    identically 0 (the official STS-B no-op), so a one-logit head gets no KD signal.
    """
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"student_logits shape {tuple(student_logits.shape)} != teacher_logits shape "
            f"{tuple(teacher_logits.shape)}; KD needs teacher and student to share the label "
            "set / vocabulary (same tokenizer)"
        )
    if temperature <= 0:
        raise ValueError(f"temperature={temperature!r} is invalid; allowed: a number > 0")
    n_classes = student_logits.shape[-1]
    s = student_logits.reshape(-1, n_classes).float() / temperature
    t = teacher_logits.detach().reshape(-1, n_classes).float() / temperature
    log_p_s = F.log_softmax(s, dim=-1)
    log_p_t = F.log_softmax(t, dim=-1)
    per_row = (log_p_t.exp() * (log_p_t - log_p_s)).sum(-1)  # (N,)
    if mask is not None:
        keep = mask.reshape(-1).to(per_row.dtype)
        return (per_row * keep).sum() / keep.sum().clamp_min(1.0) * temperature**2
    return per_row.mean() * temperature**2


def _masked_mean(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of ``(B, T, D)`` ``x`` over real positions (``mask`` ``(B, T)``, 1 = real)."""
    if mask is None:
        return x.mean()
    m = mask.to(x.dtype).unsqueeze(-1)  # (B, T, 1)
    return (x * m).sum() / (m.sum() * x.shape[-1]).clamp_min(1.0)


def _masked_mse(
    a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None, normalize: bool = False
) -> torch.Tensor:
    if a.shape != b.shape:
        raise ValueError(
            f"layer states have shapes {tuple(a.shape)} (student) and {tuple(b.shape)} "
            "(teacher); project or filter them to the same width first"
        )
    target = b.detach().float()
    mse = _masked_mean((a.float() - target) ** 2, mask)
    if normalize:
        mse = mse / _masked_mean(target**2, mask).clamp_min(1e-8)
    return mse


def layer_mse_loss(
    student_states: Sequence[torch.Tensor] | torch.Tensor,
    teacher_states: Sequence[torch.Tensor] | torch.Tensor,
    mask: torch.Tensor | None = None,
    normalize: bool = False,
) -> torch.Tensor:
    """Mean over pairs of ``mean((s - t)²)``; states are ``(B, T, D)`` (or one tensor).

    ``mask`` ``(B, T)`` (1 = real token) excludes padding; ``None`` averages over every
    position including padding, as the official code does. Teacher states are detached.
    ``normalize=True`` divides each pair's MSE by ``mean(t²)`` over the same positions (a
    scale-free relative error: 1.0 for a student that outputs zeros); ``False`` is official.
    """
    if isinstance(student_states, torch.Tensor):
        student_states = [student_states]
    if isinstance(teacher_states, torch.Tensor):
        teacher_states = [teacher_states]
    if len(student_states) != len(teacher_states) or not student_states:
        raise ValueError(
            f"got {len(student_states)} student and {len(teacher_states)} teacher states; "
            "allowed: the same number (>= 1) of paired layers"
        )
    losses = [
        _masked_mse(s, t, mask, normalize)
        for s, t in zip(student_states, teacher_states, strict=True)
    ]
    return torch.stack(losses).mean()


def ted_loss(
    task_loss: torch.Tensor,
    student_logits: torch.Tensor | None = None,
    teacher_logits: torch.Tensor | None = None,
    student_states: Sequence[torch.Tensor] | None = None,
    teacher_states: Sequence[torch.Tensor] | None = None,
    *,
    kl_alpha: float = 0.0,
    mse_alpha: float = 0.0,
    temperature: float = 2.0,
    logits_mask: torch.Tensor | None = None,
    states_mask: torch.Tensor | None = None,
    normalize_states: bool = False,
) -> dict[str, torch.Tensor]:
    """The stage-II objective; returns ``{"loss", "task", "kd", "layer"}``.

    ``loss = task + kl_alpha · kd_loss + mse_alpha · layer_mse_loss``. A term whose alpha is 0
    is skipped (reported as 0). For TED pass filter outputs as states; for layer-wise
    distillation pass projected student states and raw teacher states. ``normalize_states``
    is :func:`layer_mse_loss`'s ``normalize``.
    """
    zero = task_loss.new_zeros(())
    kd = zero
    layer = zero
    if kl_alpha:
        if student_logits is None or teacher_logits is None:
            raise ValueError("kl_alpha > 0 needs student_logits and teacher_logits")
        kd = kd_loss(student_logits, teacher_logits, temperature, logits_mask)
    if mse_alpha:
        if student_states is None or teacher_states is None:
            raise ValueError("mse_alpha > 0 needs student_states and teacher_states")
        layer = layer_mse_loss(student_states, teacher_states, states_mask, normalize_states)
    loss = task_loss + kl_alpha * kd + mse_alpha * layer
    return {"loss": loss, "task": task_loss.detach(), "kd": kd.detach(), "layer": layer.detach()}


def make_filter(
    hidden_size: int, output_dim: int, nonlinear: bool = False, activation: str = "gelu"
) -> nn.Module:
    """One task-aware filter: ``Linear(h, d_f)``, or ``Linear(h, h) → act → Linear(h, d_f)``."""
    if nonlinear:
        return nn.Sequential(
            nn.Linear(hidden_size, hidden_size),
            ACT2FN[activation],
            nn.Linear(hidden_size, output_dim),
        )
    return nn.Linear(hidden_size, output_dim)


def classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy for ``(B, C)`` logits with C > 1; MSE regression when C == 1."""
    if logits.shape[-1] == 1:
        return F.mse_loss(logits.squeeze(-1).float(), labels.float())
    return F.cross_entropy(logits.float(), labels.long())


def causal_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy: ``(B, T, V)`` logits predict ``labels[:, 1:]`` (-100 = skip)."""
    shift_logits = logits[:, :-1].reshape(-1, logits.shape[-1]).float()
    shift_labels = labels[:, 1:].reshape(-1).long()
    return F.cross_entropy(shift_logits, shift_labels, ignore_index=-100)


def causal_lm_mask(labels: torch.Tensor) -> torch.Tensor:
    """``(B, T)`` mask of positions whose next-token label is kept (for per-token KD)."""
    keep = torch.zeros_like(labels, dtype=torch.bool)
    keep[:, :-1] = labels[:, 1:] != -100
    return keep
