"""Tiny transformers models built from configs (no hub), sized by arguments.

Token ids default to the :mod:`lmlab_common.tokenizers` layout: pad 0, bos/cls 2, eos/sep 3.
Pass ``seed`` to make the random initialisation reproducible; ``**overrides`` go to the config.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import (
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    BartConfig,
    BertConfig,
    DebertaV2Config,
    GPT2Config,
    LlamaConfig,
    PretrainedConfig,
    PreTrainedModel,
    T5Config,
)

from .config import require, require_choice

ENCODER_FAMILIES = ("bert", "deberta-v2")
CAUSAL_FAMILIES = ("gpt2", "llama")
SEQ2SEQ_FAMILIES = ("bart", "t5")
ENCODER_HEADS = {
    None: AutoModel,
    "sequence_classification": AutoModelForSequenceClassification,
    "token_classification": AutoModelForTokenClassification,
    "masked_lm": AutoModelForMaskedLM,
}
PAD_ID, BOS_ID, EOS_ID = 0, 2, 3


def _check_sizes(vocab_size: int, hidden_size: int, num_layers: int, num_heads: int) -> None:
    for field, value in [
        ("vocab_size", vocab_size),
        ("hidden_size", hidden_size),
        ("num_layers", num_layers),
        ("num_heads", num_heads),
    ]:
        require(isinstance(value, int) and value > 0, field, value, "an int > 0")
    require(
        hidden_size % num_heads == 0,
        "hidden_size",
        hidden_size,
        f"a multiple of num_heads={num_heads}",
    )


def _build(auto_cls: Any, config: PretrainedConfig, seed: int | None) -> PreTrainedModel:
    if seed is not None:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            model = auto_cls.from_config(config)
    else:
        model = auto_cls.from_config(config)
    return model.eval()


def tiny_encoder(
    family: str = "bert",
    head: str | None = None,
    vocab_size: int = 1000,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 2,
    intermediate_size: int | None = None,
    max_position_embeddings: int = 128,
    num_labels: int = 2,
    seed: int | None = None,
    **overrides: Any,
) -> PreTrainedModel:
    """A BERT or DeBERTa-v2 encoder; ``head`` picks the task head (None = bare encoder)."""
    require_choice("family", family, ENCODER_FAMILIES)
    require_choice("head", head, ENCODER_HEADS)
    _check_sizes(vocab_size, hidden_size, num_layers, num_heads)
    common = dict(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        intermediate_size=intermediate_size or 4 * hidden_size,
        max_position_embeddings=max_position_embeddings,
        num_labels=num_labels,
        pad_token_id=PAD_ID,
        bos_token_id=BOS_ID,
        eos_token_id=EOS_ID,
    )
    if family == "bert":
        config = BertConfig(**{**common, **overrides})
    else:
        deberta = dict(relative_attention=True, position_buckets=32, pos_att_type=["p2c", "c2p"])
        config = DebertaV2Config(**{**common, **deberta, **overrides})
    return _build(ENCODER_HEADS[head], config, seed)


def tiny_causal_lm(
    family: str = "gpt2",
    vocab_size: int = 1000,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 2,
    intermediate_size: int | None = None,
    max_position_embeddings: int = 128,
    seed: int | None = None,
    **overrides: Any,
) -> PreTrainedModel:
    """A GPT-2 (Conv1D layers) or Llama (bias-free ``nn.Linear``) causal LM."""
    require_choice("family", family, CAUSAL_FAMILIES)
    _check_sizes(vocab_size, hidden_size, num_layers, num_heads)
    ids = dict(pad_token_id=PAD_ID, bos_token_id=BOS_ID, eos_token_id=EOS_ID)
    if family == "gpt2":
        config = GPT2Config(
            vocab_size=vocab_size,
            n_embd=hidden_size,
            n_layer=num_layers,
            n_head=num_heads,
            n_inner=intermediate_size,
            n_positions=max_position_embeddings,
            **{**ids, **overrides},
        )
    else:
        config = LlamaConfig(
            vocab_size=vocab_size,
            hidden_size=hidden_size,
            num_hidden_layers=num_layers,
            num_attention_heads=num_heads,
            num_key_value_heads=num_heads,
            intermediate_size=intermediate_size or 4 * hidden_size,
            max_position_embeddings=max_position_embeddings,
            **{**ids, **overrides},
        )
    return _build(AutoModelForCausalLM, config, seed)


def tiny_seq2seq(
    family: str = "bart",
    vocab_size: int = 1000,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 2,
    intermediate_size: int | None = None,
    max_position_embeddings: int = 128,
    seed: int | None = None,
    **overrides: Any,
) -> PreTrainedModel:
    """A BART or T5 encoder-decoder LM with ``num_layers`` layers on each side."""
    require_choice("family", family, SEQ2SEQ_FAMILIES)
    _check_sizes(vocab_size, hidden_size, num_layers, num_heads)
    ffn = intermediate_size or 4 * hidden_size
    if family == "bart":
        config = BartConfig(
            vocab_size=vocab_size,
            d_model=hidden_size,
            encoder_layers=num_layers,
            decoder_layers=num_layers,
            encoder_attention_heads=num_heads,
            decoder_attention_heads=num_heads,
            encoder_ffn_dim=ffn,
            decoder_ffn_dim=ffn,
            max_position_embeddings=max_position_embeddings,
            pad_token_id=PAD_ID,
            bos_token_id=BOS_ID,
            eos_token_id=EOS_ID,
            decoder_start_token_id=EOS_ID,
            forced_eos_token_id=EOS_ID,
            **overrides,
        )
    else:
        config = T5Config(
            vocab_size=vocab_size,
            d_model=hidden_size,
            d_kv=hidden_size // num_heads,
            d_ff=ffn,
            num_layers=num_layers,
            num_decoder_layers=num_layers,
            num_heads=num_heads,
            pad_token_id=PAD_ID,
            eos_token_id=EOS_ID,
            decoder_start_token_id=PAD_ID,
            **overrides,
        )
    return _build(AutoModelForSeq2SeqLM, config, seed)
