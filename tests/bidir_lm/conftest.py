import pytest
import torch
from bidir_lm import BidirectionalLM, ToyPrograms, toy_tokenizer
from lmlab_common import tiny_causal_lm

torch.set_num_threads(1)

TASK = ToyPrograms()


@pytest.fixture
def task():
    return TASK


@pytest.fixture
def tokenizer():
    return toy_tokenizer(TASK)


def make_model(tokenizer, sharing="shared", method="mim", seed=0, context=64):
    lm = tiny_causal_lm(
        "gpt2",
        vocab_size=len(tokenizer),  # no room yet for the 6 added tokens: from_causal_lm resizes
        hidden_size=32,
        num_layers=2,
        num_heads=2,
        max_position_embeddings=context,
        seed=seed,
    )
    return BidirectionalLM.from_causal_lm(lm, tokenizer, sharing=sharing, method=method)


@pytest.fixture
def model(tokenizer):
    return make_model(tokenizer)


@pytest.fixture
def batch(tokenizer):
    docs = [TASK.sample(__import__("random").Random(i)).words for i in range(4)]
    ids = [tokenizer.convert_tokens_to_ids(w) for w in docs]
    ids[1] = ids[1][:7]  # a short row: padding must not leak into the alignment
    width = max(len(x) for x in ids)
    input_ids = torch.zeros((len(ids), width), dtype=torch.long)
    mask = torch.zeros_like(input_ids)
    for i, x in enumerate(ids):
        input_ids[i, : len(x)] = torch.tensor(x)
        mask[i, : len(x)] = 1
    return input_ids, mask
