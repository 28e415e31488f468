"""``StepAwareVerifier``: an encoder with a 5-way token-classification head.

The first token ([CLS]) carries the solution label, the step-end marker after every step carries
that step's label, all other tokens are ignored. ``score(questions, paths)`` returns
P(correct) per path and per step, batched.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from lmlab_common import progress
from torch import nn
from transformers import AutoModelForTokenClassification, AutoTokenizer, PreTrainedModel

from .config import (
    IGNORE,
    LABELS,
    SOL_CORRECT,
    SOL_INCORRECT,
    STEP_CORRECT,
    STEP_INCORRECT,
    VerifierConfig,
)
from .data import ReasoningPath


@dataclasses.dataclass
class PathScore:
    """P(correct) of a path and of each of its steps (steps beyond ``max_length``: NaN)."""

    score: float
    step_scores: list[float]


def verifier_loss(logits: torch.Tensor, labels: torch.Tensor, alpha: float) -> torch.Tensor:
    """Official weighted CE: weights 1 (solution labels), α (step labels), 0 ("O").

    logits (B, T, 5), labels (B, T) with -100 = ignored. Equals
    (Σ_sol CE + α Σ_step CE) / (N_sol + α N_step); α = 0 is the plain verifier.
    """
    weight = torch.tensor([1.0, 1.0, alpha, alpha, 0.0], device=logits.device, dtype=logits.dtype)
    flat = labels.view(-1)
    if not bool((flat != IGNORE).any()):
        return logits.sum() * 0.0
    return F.cross_entropy(
        logits.view(-1, logits.shape[-1]), flat, weight=weight, ignore_index=IGNORE
    )


class StepAwareVerifier(nn.Module):
    """A transformers token-classification model (5 labels) + tokenizer + rendering config."""

    def __init__(self, model: PreTrainedModel, tokenizer, config: VerifierConfig | None = None):
        super().__init__()
        self.verifier_config = config or VerifierConfig()
        n = getattr(model.config, "num_labels", None)
        if n != len(LABELS):
            raise ValueError(
                f"model num_labels={n} is invalid; allowed: {len(LABELS)} ({', '.join(LABELS)}); "
                "build it with AutoModelForTokenClassification(..., num_labels=5)"
            )
        self.model = model
        self.tokenizer = tokenizer
        self.marker_id = self._marker_id(tokenizer, self.verifier_config.step_marker)
        self.cls_id, self.sep_id = _special_ids(tokenizer)

    @staticmethod
    def _marker_id(tokenizer, marker: str) -> int:
        ids = tokenizer.encode(marker, add_special_tokens=False)
        unk = tokenizer.unk_token_id
        if len(ids) != 1 or (unk is not None and ids[0] == unk):
            raise ValueError(
                f"step_marker={marker!r} is not one token of this tokenizer (encodes to {ids}); "
                "allowed: a single known token - call add_step_marker(model, tokenizer, marker) "
                "first"
            )
        return ids[0]

    # --- encoding ---

    def encode(
        self, questions: Sequence[str], paths: Sequence[ReasoningPath], labels=None
    ) -> list[dict]:
        """Token ids per (question, path); with ``labels`` = [(path_ok, [step_ok...])] also the
        token labels. Returns rows of ``input_ids``, ``labels`` (if given), ``step_positions``."""
        if len(questions) != len(paths):
            raise ValueError(f"{len(questions)} questions for {len(paths)} paths; allowed: equal")
        flat_steps = [s for p in paths for s in p.steps]
        texts = list(questions) + flat_steps
        encoded = self.tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
        q_ids, step_ids = encoded[: len(questions)], encoded[len(questions) :]
        rows, cursor, limit = [], 0, self.verifier_config.max_length
        for i, path in enumerate(paths):
            ids, positions = [self.cls_id], []
            for _ in path.steps:
                ids += list(step_ids[cursor]) + [self.marker_id]
                positions.append(len(ids) - 1)
                cursor += 1
            ids += [self.sep_id] + list(q_ids[i]) + [self.sep_id]
            ids = ids[:limit]
            row = {"input_ids": ids, "step_positions": [p for p in positions if p < limit]}
            if labels is not None:
                path_ok, step_ok = labels[i]
                if len(step_ok) != len(path.steps):
                    raise ValueError(
                        f"path {i}: {len(step_ok)} step labels for {len(path.steps)} steps"
                    )
                tags = [IGNORE] * len(ids)
                tags[0] = SOL_CORRECT if path_ok else SOL_INCORRECT
                for pos, ok in zip(positions, step_ok, strict=True):
                    if pos < limit:
                        tags[pos] = STEP_CORRECT if ok else STEP_INCORRECT
                row["labels"] = tags
            rows.append(row)
        return rows

    # --- forward / scoring ---

    def forward(self, input_ids, attention_mask=None, labels=None, alpha: float = 0.1):
        logits = self.model(input_ids=input_ids, attention_mask=attention_mask).logits
        loss = None if labels is None else verifier_loss(logits, labels, alpha)
        return {"loss": loss, "logits": logits}

    @torch.no_grad()
    def score(
        self,
        questions: Sequence[str],
        paths: Sequence[ReasoningPath],
        batch_size: int = 64,
        show_progress: bool = True,
    ) -> list[PathScore]:
        """P(correct) per path (softmax over the two solution labels at [CLS]) and per step
        (softmax over the two step labels at each step marker). Batched; order kept."""
        if not paths:
            return []
        rows = self.encode(questions, paths)
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        out: list[PathScore] = []
        # sort by length so padding stays small; restore order at the end
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))
        results: dict[int, PathScore] = {}
        starts = range(0, len(order), batch_size)
        for start in progress(starts, desc="scoring", disable=None if show_progress else True):
            idx = order[start : start + batch_size]
            batch = pad_batch([rows[i] for i in idx], self.pad_id)
            logits = self.model(
                input_ids=batch["input_ids"].to(device),
                attention_mask=batch["attention_mask"].to(device),
            ).logits.float()
            sol = logits[:, 0, [SOL_CORRECT, SOL_INCORRECT]].softmax(-1)[:, 0]
            step = logits[..., [STEP_CORRECT, STEP_INCORRECT]].softmax(-1)[..., 0]
            for b, i in enumerate(idx):
                positions = rows[i]["step_positions"]
                scores = [float(step[b, p]) for p in positions]
                scores += [float("nan")] * (len(paths[i].steps) - len(scores))
                results[i] = PathScore(float(sol[b]), scores)
        self.train(was_training)
        out = [results[i] for i in range(len(rows))]
        return out

    @property
    def config(self):
        """The transformers config of the encoder (what ``Trainer`` expects on a model)."""
        return self.model.config

    @property
    def pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return 0 if pad is None else pad

    # --- save / load ---

    def save_pretrained(self, directory: str | os.PathLike, **kwargs) -> None:
        """Weights + transformers config, tokenizer and ``verifier_config.json``."""
        self.model.save_pretrained(directory, **kwargs)
        self.tokenizer.save_pretrained(directory)
        self.verifier_config.save_pretrained(directory)

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> StepAwareVerifier:
        config = VerifierConfig.from_pretrained(directory)
        model = AutoModelForTokenClassification.from_pretrained(directory)
        tokenizer = AutoTokenizer.from_pretrained(directory)
        return cls(model, tokenizer, config)

    def load_checkpoint(self, directory: str | os.PathLike) -> None:
        loaded = type(self.model).from_pretrained(directory)
        self.model.load_state_dict(loaded.state_dict())


def add_step_marker(model: PreTrainedModel, tokenizer, marker: str = "%%") -> int:
    """Add ``marker`` as a token if the tokenizer lacks it (resizing the embeddings); return
    its id."""
    ids = tokenizer.encode(marker, add_special_tokens=False)
    if len(ids) == 1 and ids[0] != tokenizer.unk_token_id:
        return ids[0]
    tokenizer.add_tokens([marker])
    model.resize_token_embeddings(len(tokenizer))
    return tokenizer.convert_tokens_to_ids(marker)


def _special_ids(tokenizer) -> tuple[int, int]:
    cls_id = (
        tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
    )
    sep_id = (
        tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    )
    if cls_id is None or sep_id is None:
        raise ValueError(
            "tokenizer has no cls/bos or sep/eos token; allowed: a tokenizer with both "
            "(the verifier reads [CLS] solution [SEP] question [SEP])"
        )
    return cls_id, sep_id


def pad_batch(rows: Sequence[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad ``input_ids`` (and ``labels`` with -100) into tensors with an attention mask."""
    width = max(len(r["input_ids"]) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    has_labels = all("labels" in r for r in rows)
    for i, r in enumerate(rows):
        n = len(r["input_ids"])
        ids[i, :n] = torch.tensor(r["input_ids"])
        mask[i, :n] = 1
        if has_labels:
            labels[i, :n] = torch.tensor(r["labels"])
    batch = {"input_ids": ids, "attention_mask": mask}
    if has_labels:
        batch["labels"] = labels
    return batch
