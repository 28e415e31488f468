"""The JGR ranker: a cross-encoder over ``[CLS] source [SEP] candidate`` and its losses.

Any transformers encoder works (BERT, RoBERTa, DeBERTa, ...): the first token's final state
goes through dropout → Linear(H, H) → tanh → dropout → Linear(H, 1), as the official
``RobertaRanker`` head. Scores are raw logits, shape ``(B, C)`` for ``B`` sources with ``C``
candidates each.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence

import torch
from lmlab_common import atomic_write_json, load_tensors, require_choice, save_tensors
from torch import nn
from torch.nn import functional as F
from transformers import AutoModel, PreTrainedModel, PreTrainedTokenizerBase

from .config import LOSS_TYPES

HEAD_FILE = "ranker_head.safetensors"
RANKER_CONFIG = "ranker_config.json"


class Ranker(nn.Module):
    """Cross-encoder ranker: ``forward(input_ids (B, C, L), attention_mask) -> (B, C)``."""

    def __init__(
        self,
        encoder: PreTrainedModel,
        dropout: float | None = None,
        step_head: bool = False,
        step_layer: int = -1,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        if dropout is None:
            dropout = float(getattr(encoder.config, "hidden_dropout_prob", 0.1) or 0.0)
        self.dropout_p = dropout
        self.dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(hidden, hidden)
        self.out_proj = nn.Linear(hidden, 1)
        self.use_token_types = int(getattr(encoder.config, "type_vocab_size", 0) or 0) > 1
        # optional step-check head (an addition): a per-token logit "this step is right",
        # read from hidden layer ``step_layer`` and trained with an auxiliary BCE loss
        self.step_layer = int(step_layer)
        self.step_head = nn.Linear(hidden, 1) if step_head else None

    @property
    def config(self):
        return self.encoder.config

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        return_step_logits: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(B, C)`` for ``input_ids`` / ``attention_mask`` of shape ``(B, C, L)``
        (``(N, L)`` gives ``(N,)``). With ``return_step_logits`` (needs ``step_head``), also
        the per-token step-check logits, shape ``(B, C, L)``."""
        shape = input_ids.shape[:-1]
        flat = {
            "input_ids": input_ids.reshape(-1, input_ids.shape[-1]),
            "attention_mask": attention_mask.reshape(-1, attention_mask.shape[-1]),
        }
        if token_type_ids is not None and self.use_token_types:
            flat["token_type_ids"] = token_type_ids.reshape(-1, token_type_ids.shape[-1])
        want_steps = return_step_logits and self.step_head is not None
        if return_step_logits and self.step_head is None:
            raise ValueError("return_step_logits=True needs a Ranker built with step_head=True")
        out = self.encoder(**flat, output_hidden_states=want_steps and self.step_layer != -1)
        hidden = out.last_hidden_state[:, 0]  # (N, H)
        x = torch.tanh(self.dense(self.dropout(hidden)))
        scores = self.out_proj(self.dropout(x)).squeeze(-1).reshape(shape)
        if not want_steps:
            return scores
        states = (
            out.last_hidden_state if self.step_layer == -1 else out.hidden_states[self.step_layer]
        )
        steps = self.step_head(self.dropout(states)).squeeze(-1)
        return scores, steps.reshape(*shape, states.shape[1])

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        """The encoder via ``save_pretrained`` plus the head and its settings."""
        os.makedirs(directory, exist_ok=True)
        self.encoder.save_pretrained(directory)
        head = {f"dense.{k}": v for k, v in self.dense.state_dict().items()}
        head |= {f"out_proj.{k}": v for k, v in self.out_proj.state_dict().items()}
        if self.step_head is not None:
            head |= {f"step_head.{k}": v for k, v in self.step_head.state_dict().items()}
        save_tensors(head, os.path.join(directory, HEAD_FILE))
        settings = {
            "dropout": self.dropout_p,
            "step_head": self.step_head is not None,
            "step_layer": self.step_layer,
        }
        atomic_write_json(os.path.join(directory, RANKER_CONFIG), settings)

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> Ranker:
        """Rebuild a ranker written by :meth:`save_pretrained` (nothing to re-specify)."""
        cfg_path = os.path.join(directory, RANKER_CONFIG)
        if not os.path.isfile(cfg_path):
            raise FileNotFoundError(f"no {RANKER_CONFIG} in {os.fspath(directory)!r}")
        with open(cfg_path, encoding="utf-8") as fh:
            settings = json.load(fh)
        ranker = cls(
            AutoModel.from_pretrained(directory),
            dropout=settings["dropout"],
            step_head=settings.get("step_head", False),
            step_layer=settings.get("step_layer", -1),
        )
        head = load_tensors(os.path.join(directory, HEAD_FILE))
        ranker.dense.load_state_dict({k[6:]: v for k, v in head.items() if k.startswith("dense.")})
        ranker.out_proj.load_state_dict(
            {k[9:]: v for k, v in head.items() if k.startswith("out_proj.")}
        )
        if ranker.step_head is not None:
            ranker.step_head.load_state_dict(
                {k[10:]: v for k, v in head.items() if k.startswith("step_head.")}
            )
        return ranker.eval()

    @torch.no_grad()
    def score(
        self,
        tokenizer: PreTrainedTokenizerBase,
        sources: Sequence[str],
        candidates: Sequence[Sequence[str]],
        max_source_length: int = 400,
        max_candidate_length: int = 109,
    ) -> torch.Tensor:
        """Scores ``(B, C)`` of ``candidates[b][c]`` for ``sources[b]`` (eval mode, no grad)."""
        was_training = self.training
        self.eval()
        batch = encode_pairs(
            tokenizer, sources, candidates, max_source_length, max_candidate_length
        )
        device = next(self.parameters()).device
        out = self(**{k: v.to(device) for k, v in batch.items()})
        self.train(was_training)
        return out


def _special(tokenizer: PreTrainedTokenizerBase, first: str, second: str) -> int:
    value = getattr(tokenizer, first) if getattr(tokenizer, first) is not None else None
    if value is None:
        value = getattr(tokenizer, second)
    if value is None:
        raise ValueError(
            f"ranker tokenizer {type(tokenizer).__name__} has neither {first} nor {second}; "
            "allowed: a tokenizer with CLS/SEP (or BOS/EOS) tokens"
        )
    return value


def encode_pairs(
    tokenizer: PreTrainedTokenizerBase,
    sources: Sequence[str],
    candidates: Sequence[Sequence[str]],
    max_source_length: int = 400,
    max_candidate_length: int = 109,
) -> dict[str, torch.Tensor]:
    """``[CLS] src[:Ls] [SEP] cand[:Lc]`` per pair (official layout, no trailing SEP).

    Returns ``input_ids``, ``attention_mask`` and ``token_type_ids`` (0 source, 1 candidate),
    each ``(B, C, L)``; every source must have the same number of candidates.
    """
    if len(sources) != len(candidates):
        raise ValueError(
            f"candidates has {len(candidates)} lists; allowed: one per source ({len(sources)})"
        )
    counts = {len(c) for c in candidates}
    if len(counts) != 1 or 0 in counts:
        raise ValueError(
            f"candidate counts {sorted(counts)} are invalid; allowed: the same number (>= 1) "
            "for every source"
        )
    cls_id = _special(tokenizer, "cls_token_id", "bos_token_id")
    sep_id = _special(tokenizer, "sep_token_id", "eos_token_id")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else sep_id
    src_ids = tokenizer(list(sources), add_special_tokens=False)["input_ids"]
    flat = [c for cands in candidates for c in cands]
    cand_ids = tokenizer(flat, add_special_tokens=False)["input_ids"]
    n_cand = counts.pop()
    rows, types = [], []
    for i, ids in enumerate(cand_ids):
        src = src_ids[i // n_cand][:max_source_length]
        head = [cls_id, *src, sep_id]
        rows.append(head + ids[:max_candidate_length])
        types.append([0] * len(head) + [1] * min(len(ids), max_candidate_length))
    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    token_types = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (r, t) in enumerate(zip(rows, types, strict=True)):
        input_ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
        token_types[i, : len(t)] = torch.tensor(t)
    shape = (len(sources), n_cand, width)
    return {
        "input_ids": input_ids.view(shape),
        "attention_mask": mask.view(shape),
        "token_type_ids": token_types.view(shape),
    }


StepLabeler = Callable[[str, str], Sequence[tuple[int, int, float]]]


def step_labels(
    tokenizer: PreTrainedTokenizerBase,
    sources: Sequence[str],
    candidates: Sequence[Sequence[str]],
    labeler: StepLabeler,
    width: int,
    max_source_length: int = 400,
    max_candidate_length: int = 109,
) -> torch.Tensor:
    """Per-token step-check targets ``(B, C, width)`` aligned with :func:`encode_pairs`.

    ``labeler(source, candidate)`` returns ``(char_start, char_end, label)`` spans of the
    candidate text (label 1.0 = this step is right, 0.0 = wrong); the first candidate token
    starting inside a span gets its label, every other position is ``-100`` (ignored).
    Needs a fast tokenizer (offset mappings).
    """
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            f"step labels need a fast tokenizer (offsets); got {type(tokenizer).__name__}"
        )
    src_lens = [
        min(len(ids), max_source_length)
        for ids in tokenizer(list(sources), add_special_tokens=False)["input_ids"]
    ]
    n_cand = len(candidates[0])
    flat = [c for cands in candidates for c in cands]
    enc = tokenizer(flat, add_special_tokens=False, return_offsets_mapping=True)
    labels = torch.full((len(flat), width), -100.0)
    for i, (text, offsets) in enumerate(zip(flat, enc["offset_mapping"], strict=True)):
        b = i // n_cand
        start = src_lens[b] + 2  # [CLS] source [SEP]
        for lo, hi, value in labeler(sources[b], text):
            for j, (a, _) in enumerate(offsets[:max_candidate_length]):
                if lo <= a < hi:
                    if start + j < width:
                        labels[i, start + j] = float(value)
                    break
    return labels.view(len(sources), n_cand, width)


def step_loss(step_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean BCE of the step-check logits over labelled positions (0 when none are)."""
    keep = labels != -100
    if not bool(keep.any()):
        return step_logits.sum() * 0.0
    return F.binary_cross_entropy_with_logits(step_logits[keep], labels[keep].to(step_logits))


def ranker_loss(
    scores: torch.Tensor,
    loss_type: str = "contrastive",
    metric: torch.Tensor | None = None,
    temperature: float = 0.1,
) -> torch.Tensor:
    """Loss for scores ``(B, C)`` whose column 0 is the positive (the best candidate by metric)
    and the rest are ordered best to worst.

    ``contrastive``: −mean log softmax(s)[:, 0] (official default). ``binary``: BCE with label
    1 at column 0 and 0 elsewhere. ``rank``: Σ_i MarginRanking(s[:, :−i], s[:, i:], 0.01·i)
    over the candidate order (BRIO's ranking loss, the official ``rank`` option).
    ``listwise`` (an addition): cross-entropy of softmax(s) against softmax(metric / T),
    which needs ``metric`` ``(B, C)``.
    """
    require_choice("loss_type", loss_type, LOSS_TYPES)
    if scores.dim() != 2 or scores.shape[1] < 2:
        raise ValueError(f"scores shape {tuple(scores.shape)} is invalid; allowed: (B, C>=2)")
    if loss_type == "contrastive":
        return -F.log_softmax(scores, dim=1)[:, 0].mean()
    if loss_type == "listwise":
        if metric is None or metric.shape != scores.shape:
            raise ValueError("loss_type='listwise' needs metric scores of the same shape")
        target = F.softmax(metric.to(scores.dtype) / temperature, dim=1)
        return -(target * F.log_softmax(scores, dim=1)).sum(dim=1).mean()
    if loss_type == "binary":
        labels = torch.zeros_like(scores)
        labels[:, 0] = 1.0
        return F.binary_cross_entropy_with_logits(scores, labels)
    total = scores.new_zeros(())
    for i in range(1, scores.shape[1]):
        better, worse = scores[:, :-i].reshape(-1), scores[:, i:].reshape(-1)
        total = total + F.margin_ranking_loss(
            better, worse, torch.ones_like(better), margin=0.01 * i
        )
    return total


def pick_candidates(
    metric_scores: torch.Tensor, num_picked: int, strategy: str = "bottom", generator=None
) -> torch.Tensor:
    """Indices ``(B, num_picked)`` into the candidates: column 0 is the best by metric.

    ``bottom`` (official default): the ``num_picked - 1`` worst next; ``top``: the next best;
    ``random``: random others; ``top-bottom``: half next-best, half worst; ``all``: every
    candidate, best to worst (``num_picked`` is ignored).
    """
    order = torch.argsort(metric_scores, dim=1, descending=True, stable=True)  # (B, C)
    n = order.shape[1]
    if strategy == "all":
        return order
    if num_picked > n:
        raise ValueError(
            f"num_cand_picked={num_picked} is invalid; allowed: at most the {n} sampled candidates"
        )
    k = num_picked - 1
    if strategy == "bottom":
        rest = order[:, n - k :] if k else order[:, :0]
    elif strategy == "top":
        rest = order[:, 1 : 1 + k]
    elif strategy == "top-bottom":
        top = k // 2
        rest = torch.cat([order[:, 1 : 1 + top], order[:, n - (k - top) :]], dim=1)
    elif strategy == "random":
        perm = torch.stack([torch.randperm(n - 1, generator=generator) for _ in range(len(order))])
        rest = torch.gather(order[:, 1:], 1, perm[:, :k].to(order.device))
    else:
        require_choice("candidate_pick_strategy", strategy, ("bottom", "top", "random", "all"))
    return torch.cat([order[:, :1], rest], dim=1)
