"""``MIMTrainer``: a ``transformers.Trainer`` for MIM and the L2R / FIM baselines.

The Trainer sees a :class:`~bidir_lm.model.BidirectionalLM`, so checkpointing, resume,
logging, mixed precision and torchrun / accelerate multi-process training work unchanged;
checkpoints hold both directions (or the shared model) and the direction-token ids.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence

import torch
from transformers import Trainer

from .config import MIMConfig
from .model import BidirectionalLM


class PadCollator:
    """Rows with ``input_ids`` → right-padded ``input_ids`` and ``attention_mask`` tensors."""

    def __init__(self, pad_token_id: int = 0, max_length: int | None = None) -> None:
        self.pad_token_id = pad_token_id
        self.max_length = max_length

    def __call__(self, rows: Sequence[dict]) -> dict[str, torch.Tensor]:
        seqs = [list(r["input_ids"])[: self.max_length] for r in rows]
        if any(len(s) == 0 for s in seqs):
            raise ValueError("a row has no input_ids; allowed: documents of >= 1 token")
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
            mask[i, : len(s)] = 1
        return {"input_ids": ids, "attention_mask": mask}


class MIMTrainer(Trainer):
    """Trains a :class:`BidirectionalLM` with ``args.method`` (mim | l2r | fim).

    Logs ``ce_forward``, ``ce_backward`` and ``agreement`` (mean D per token) next to ``loss``.
    For ``fim`` pass FIM-transformed data (:func:`bidir_lm.apply_fim`).
    """

    def __init__(self, model: BidirectionalLM, args: MIMConfig, **kwargs) -> None:
        if not isinstance(args, MIMConfig):
            raise ValueError(f"args={type(args).__name__} is invalid; allowed: a MIMConfig")
        if not isinstance(model, BidirectionalLM):
            raise ValueError(
                f"model={type(model).__name__} is invalid; allowed: a BidirectionalLM "
                "(BidirectionalLM.from_causal_lm(model, tokenizer))"
            )
        if args.method != "mim" and model.backward_model is not None:
            raise ValueError(
                f"method={args.method!r} trains the forward direction only; allowed with "
                "sharing='shared' (a separate backward model would get no gradient)"
            )
        model.bidir_config.method = args.method
        kwargs.setdefault("data_collator", PadCollator(model.bidir_config.pad_token_id))
        super().__init__(model=model, args=args, **kwargs)
        self._terms: dict[str, list[float]] = defaultdict(list)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        args = self.args
        out = model(
            input_ids=inputs["input_ids"],
            attention_mask=inputs.get("attention_mask"),
            objective=args.method,
            beta=args.beta,
            divergence=args.divergence,
            stop_gradient=args.stop_gradient,
        )
        if model.training:
            for name in ("ce_forward", "ce_backward", "agreement"):
                self._terms[name].append(float(out[name].detach()))
        if return_outputs:
            return out["loss"], {"loss": out["loss"], "logits": out["forward_logits"]}
        return out["loss"]

    def log(self, logs: dict[str, float], *args, **kwargs) -> None:
        if "loss" in logs:
            for name, values in self._terms.items():
                if values:
                    logs[name] = round(sum(values) / len(values), 6)
            self._terms.clear()
        super().log(logs, *args, **kwargs)

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        output_dir = output_dir if output_dir is not None else self.args.output_dir
        if not self.args.should_save:
            return
        os.makedirs(output_dir, exist_ok=True)
        self.accelerator.unwrap_model(self.model).save_pretrained(output_dir)
        if self.processing_class is not None:
            self.processing_class.save_pretrained(output_dir)
        torch.save(self.args, os.path.join(output_dir, "training_args.bin"))

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        (model or self.model).load_checkpoint(resume_from_checkpoint)
