"""The MIM objective: two next-token losses and the per-position agreement term.

Alignment (documents right-padded, ``L`` = a row's length, tokens ``x_0 .. x_{L-1}``):

- forward input  ``[<l2r>, x_0, ..., x_{L-1}]``: logits at position ``j`` predict ``x_j``
  from ``x_<j``;
- backward input ``[<r2l>, x_{L-1}, ..., x_0]``: logits at position ``j`` predict
  ``x_{L-1-j}`` from ``x_>{L-1-j}``.

So ``p_backward(x_j | x_>j)`` sits at backward position ``L-1-j``: :func:`reverse_valid`
reverses each row's first ``L`` positions and leaves the padding where it is, after which
position ``j`` of both tensors is a distribution over the same token ``x_j``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def reverse_valid(tensor: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse the first ``lengths[b]`` entries of each row along dim 1; keep the rest.

    ``tensor``: ``(B, T, ...)``; ``lengths``: ``(B,)`` ints ``<= T``. Returns ``(B, T, ...)``.
    """
    batch, steps = tensor.shape[:2]
    pos = torch.arange(steps, device=tensor.device).expand(batch, steps)
    lengths = lengths.to(tensor.device).view(batch, 1)
    index = torch.where(pos < lengths, lengths - 1 - pos, pos)
    if tensor.dim() > 2:
        index = index.view(batch, steps, *([1] * (tensor.dim() - 2))).expand_as(tensor)
    return torch.gather(tensor, 1, index)


def divergence(logits_p: torch.Tensor, logits_q: torch.Tensor, kind: str = "tv") -> torch.Tensor:
    """Per-position divergence between ``softmax(logits_p)`` and ``softmax(logits_q)``.

    ``(..., V)`` → ``(...)``. ``tv``: ½·Σ|p − q| (in [0, 1]); ``kl``: KL(p‖q);
    ``skl``: KL(p‖q) + KL(q‖p). Computed in float32.
    """
    logp = F.log_softmax(logits_p.float(), dim=-1)
    logq = F.log_softmax(logits_q.float(), dim=-1)
    if kind == "tv":
        return 0.5 * (logp.exp() - logq.exp()).abs().sum(-1)
    kl_pq = (logp.exp() * (logp - logq)).sum(-1)
    if kind == "kl":
        return kl_pq
    if kind == "skl":
        return kl_pq + (logq.exp() * (logq - logp)).sum(-1)
    raise ValueError(f"divergence={kind!r} is invalid; allowed: 'tv', 'kl', 'skl'")


def masked_ce(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over positions where ``mask`` is true. ``(B, T, V)``, ``(B, T)``."""
    ce = F.cross_entropy(logits.float().transpose(1, 2), targets, reduction="none")
    mask = mask.to(ce.dtype)
    return (ce * mask).sum() / mask.sum().clamp_min(1.0)


def mim_terms(
    forward_logits: torch.Tensor,
    backward_logits: torch.Tensor,
    input_ids: torch.Tensor,
    lengths: torch.Tensor,
    beta: float = 1.0,
    kind: str = "tv",
    stop_gradient: str = "none",
) -> dict[str, torch.Tensor]:
    """All MIM loss terms.

    ``forward_logits``/``backward_logits``: ``(B, T, V)`` — the first ``T`` output positions of
    the two directions (inputs laid out as in the module docstring); ``input_ids``: ``(B, T)``
    right-padded documents; ``lengths``: ``(B,)``. Returns ``loss``, ``ce_forward``,
    ``ce_backward``, ``agreement`` (mean D over all real tokens).
    """
    steps = input_ids.shape[1]
    mask = (
        torch.arange(steps, device=input_ids.device)[None, :]
        < lengths.to(input_ids.device)[:, None]
    )
    aligned_backward = reverse_valid(backward_logits, lengths)  # position j: p_b(x_j | x_>j)
    ce_forward = masked_ce(forward_logits, input_ids, mask)
    ce_backward = masked_ce(aligned_backward, input_ids, mask)
    f_side, b_side = forward_logits, aligned_backward
    if stop_gradient == "forward":
        f_side = f_side.detach()
    elif stop_gradient == "backward":
        b_side = b_side.detach()
    per_position = divergence(f_side, b_side, kind)
    maskf = mask.to(per_position.dtype)
    agreement = (per_position * maskf).sum() / maskf.sum().clamp_min(1.0)
    loss = ce_forward + ce_backward
    if beta:
        loss = loss + beta * agreement
    return {
        "loss": loss,
        "ce_forward": ce_forward,
        "ce_backward": ce_backward,
        "agreement": agreement,
    }
