import types

import pytest
import torch
from lmlab_common import tiny_causal_lm, tiny_encoder, tiny_seq2seq


@pytest.fixture
def bert():
    return tiny_encoder("bert", head="sequence_classification", seed=0).eval()


def make_model(family: str):
    if family in ("bert", "deberta-v2"):
        return tiny_encoder(family, head="sequence_classification", seed=0).eval()
    if family in ("gpt2", "llama"):
        return tiny_causal_lm(family, seed=0).eval()
    return tiny_seq2seq(family, seed=0).eval()


def model_inputs(model, batch=3, length=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 100, (batch, length), generator=g)
    out = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    if model.config.is_encoder_decoder:
        out["decoder_input_ids"] = ids[:, :5]
    return out


def logits(model, inputs):
    with torch.no_grad():
        out = model(**inputs)
    return out.logits if hasattr(out, "logits") else out.last_hidden_state


@pytest.fixture
def h():
    """Helpers (tests run with --import-mode=importlib, so conftest is not importable)."""
    return types.SimpleNamespace(make_model=make_model, model_inputs=model_inputs, logits=logits)
