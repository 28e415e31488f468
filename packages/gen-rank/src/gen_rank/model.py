"""The generator–ranker pair as one ``nn.Module`` (what the Trainer, DDP and checkpoints see)
and save/load of the pair.

``GeneratorRanker.forward(phase, ...)`` runs the part of the step that needs gradients, so
DistributedDataParallel synchronises whichever model the step trains.
"""

from __future__ import annotations

import os

import torch
from torch import nn
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from .generation import Candidates, candidate_logprobs
from .ranker import Ranker

GENERATOR_DIR = "generator"
RANKER_DIR = "ranker"


class GeneratorRanker(nn.Module):
    """Holds ``generator`` (a transformers LM) and ``ranker`` (:class:`Ranker`)."""

    def __init__(self, generator: PreTrainedModel, ranker: Ranker) -> None:
        super().__init__()
        self.generator = generator
        self.ranker = ranker
        self.is_encoder_decoder = bool(getattr(generator.config, "is_encoder_decoder", False))

    @property
    def config(self):
        return self.generator.config

    def forward(
        self,
        phase: str,
        ranker_inputs: dict[str, torch.Tensor] | None = None,
        candidates: Candidates | None = None,
        mle_inputs: dict[str, torch.Tensor] | None = None,
        mask_pad_after_eos: bool = True,
        return_step_logits: bool = False,
    ) -> dict[str, torch.Tensor]:
        """``phase="ranker"``: ``{"scores": (B, C)}`` of ``ranker_inputs`` (and
        ``"step_logits"`` ``(B, C, L)`` with ``return_step_logits``).
        ``phase="generator"``: ``{"logp", "mask"}`` ``(B*C, T)`` of ``candidates`` and
        ``{"mle"}`` (the generator's own cross-entropy on ``mle_inputs``, if given)."""
        if phase == "ranker":
            if return_step_logits:
                scores, steps = self.ranker(**ranker_inputs, return_step_logits=True)
                return {"scores": scores, "step_logits": steps}
            return {"scores": self.ranker(**ranker_inputs)}
        if phase != "generator":
            raise ValueError(f"phase={phase!r} is invalid; allowed: 'ranker', 'generator'")
        logp, mask = candidate_logprobs(
            self.generator, candidates, mask_pad_after_eos, self.is_encoder_decoder
        )
        out = {"logp": logp, "mask": mask}
        if mle_inputs is not None:
            out["mle"] = self.generator(**mle_inputs).loss
        return out

    def save_pretrained(
        self,
        directory: str | os.PathLike,
        tokenizer: PreTrainedTokenizerBase | None = None,
        ranker_tokenizer: PreTrainedTokenizerBase | None = None,
    ) -> None:
        save_pair(directory, self.generator, self.ranker, tokenizer, ranker_tokenizer)

    def load_checkpoint(self, directory: str | os.PathLike) -> None:
        """Load weights saved by :meth:`save_pretrained` into this pair (in place)."""
        generator, ranker, _, _ = load_pair(directory, tokenizers=False)
        self.generator.load_state_dict(generator.state_dict())
        self.ranker.load_state_dict(ranker.state_dict())


def save_pair(
    directory: str | os.PathLike,
    generator: PreTrainedModel,
    ranker: Ranker,
    tokenizer: PreTrainedTokenizerBase | None = None,
    ranker_tokenizer: PreTrainedTokenizerBase | None = None,
) -> None:
    """``directory/generator`` (``save_pretrained`` + tokenizer) and ``directory/ranker``
    (:meth:`Ranker.save_pretrained` + its tokenizer; the generator's when not given)."""
    gen_dir = os.path.join(directory, GENERATOR_DIR)
    rank_dir = os.path.join(directory, RANKER_DIR)
    generator.save_pretrained(gen_dir)
    ranker.save_pretrained(rank_dir)
    if tokenizer is not None:
        tokenizer.save_pretrained(gen_dir)
    rtok = ranker_tokenizer if ranker_tokenizer is not None else tokenizer
    if rtok is not None:
        rtok.save_pretrained(rank_dir)


def load_generator(path: str | os.PathLike) -> PreTrainedModel:
    """A seq2seq or causal LM from a folder, chosen by its config."""
    config = AutoConfig.from_pretrained(path)
    if getattr(config, "is_encoder_decoder", False):
        return AutoModelForSeq2SeqLM.from_pretrained(path)
    return AutoModelForCausalLM.from_pretrained(path)


def load_pair(
    directory: str | os.PathLike, tokenizers: bool = True
) -> tuple[PreTrainedModel, Ranker, PreTrainedTokenizerBase | None, PreTrainedTokenizerBase | None]:
    """``(generator, ranker, tokenizer, ranker_tokenizer)`` from :func:`save_pair`'s folder."""
    gen_dir = os.path.join(directory, GENERATOR_DIR)
    rank_dir = os.path.join(directory, RANKER_DIR)
    for path in (gen_dir, rank_dir):
        if not os.path.isdir(path):
            raise FileNotFoundError(
                f"{path!r} does not exist; allowed: a folder written by save_pair / "
                "JGRTrainer.save_model (with generator/ and ranker/)"
            )
    generator = load_generator(gen_dir)
    ranker = Ranker.from_pretrained(rank_dir)
    tok = rtok = None
    if tokenizers:
        tok = AutoTokenizer.from_pretrained(gen_dir)
        rtok = AutoTokenizer.from_pretrained(rank_dir)
    return generator.eval(), ranker.eval(), tok, rtok
