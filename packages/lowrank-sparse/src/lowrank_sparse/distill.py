"""Sentence-embedding distillation: train a compressed student to match its original.

One home for the loop used by ``lowrank-sparse compress``, the claim experiment and the
compress-embedder app: the student's mean-pooled embeddings are pulled towards the teacher's
(1 - cosine), optionally plus a layer-wise term on the hidden states, while a
:class:`LoSparsePruner` (optional) prunes S on its schedule after every optimizer step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from lmlab_common import mean_pool, progress, require, require_int, tokenize
from torch import nn

from .pruner import LoSparsePruner

# (student hidden states, teacher hidden states, (B, T) attention mask) -> scalar loss
LayerLoss = Callable[[Sequence[torch.Tensor], Sequence[torch.Tensor], torch.Tensor], torch.Tensor]


def distill_embeddings(
    student: nn.Module,
    teacher: nn.Module,
    tokenizer: Any,
    sentences: Sequence[str],
    steps: int,
    *,
    batch_size: int = 16,
    lr: float = 1e-4,
    max_length: int = 32,
    pruner: LoSparsePruner | None = None,
    layer_loss: LayerLoss | None = None,
    layer_weight: float = 0.0,
    shuffle_seed: int | None = None,
    finalize: bool = False,
    desc: str = "distil",
    show_progress: bool = False,
) -> list[float]:
    """Train ``student`` for ``steps`` AdamW steps to match ``teacher``'s embeddings; return the
    per-step losses.

    Batches of ``batch_size`` sentences are taken in order (after one seeded shuffle when
    ``shuffle_seed`` is set), wrapping around at the end. Loss per batch:
    ``mean(1 - cos(student_emb, teacher_emb))`` plus, when ``layer_loss`` is given and
    ``layer_weight > 0``, ``layer_weight * layer_loss(student_states, teacher_states, mask)``
    over the hidden states after the embeddings (e.g. ``task_distill.layer_mse_loss``).
    ``pruner.step()`` runs after every optimizer step, before the gradients are cleared;
    ``finalize=True`` masks to the final ratio at the end.
    """
    require_int("steps", steps, low=0)
    require_int("batch_size", batch_size, low=1)
    require(len(sentences) >= batch_size, "sentences", f"{len(sentences)} sentences",
            f"at least batch_size={batch_size}")  # fmt: skip
    require(layer_weight >= 0, "layer_weight", layer_weight, "a number >= 0")
    use_layers = layer_loss is not None and layer_weight > 0
    data = list(sentences)
    if shuffle_seed is not None:
        order = torch.randperm(len(data), generator=torch.Generator().manual_seed(shuffle_seed))
        data = [data[i] for i in order.tolist()]
    optimizer = torch.optim.AdamW(student.parameters(), lr=lr, weight_decay=0.0)
    teacher.eval()
    student.train()
    cursor, losses = 0, []
    bar = progress(range(steps), desc=desc, disable=None if show_progress else True)
    for _ in bar:
        if cursor + batch_size > len(data):
            cursor = 0
        batch = tokenize(tokenizer, data[cursor : cursor + batch_size], max_length)
        cursor += batch_size
        mask = batch["attention_mask"]
        inputs = {"input_ids": batch["input_ids"], "attention_mask": mask}
        with torch.no_grad():
            t_out = teacher(**inputs, output_hidden_states=use_layers)
        s_out = student(**inputs, output_hidden_states=use_layers)
        t_emb = mean_pool(t_out.last_hidden_state, mask)
        s_emb = mean_pool(s_out.last_hidden_state, mask)
        loss = (1 - F.cosine_similarity(s_emb, t_emb)).mean()
        if use_layers:
            layers = layer_loss(s_out.hidden_states[1:], t_out.hidden_states[1:], mask)
            loss = loss + layer_weight * layers
        loss.backward()
        optimizer.step()
        ratio = pruner.step() if pruner is not None else None
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        if show_progress and hasattr(bar, "set_postfix"):
            bar.set_postfix(
                loss=f"{losses[-1]:.4f}", **({"kept_S": f"{ratio:.3f}"} if ratio else {})
            )
    if finalize and pruner is not None:
        pruner.finalize()
    student.eval()
    return losses


__all__ = ["LayerLoss", "distill_embeddings"]
