import pytest
from gen_rank import ChainTask, Ranker
from lmlab_common import tiny_causal_lm, tiny_encoder, tiny_seq2seq

TASK = ChainTask()
TOKENIZER = TASK.tokenizer()


@pytest.fixture
def task():
    return TASK


@pytest.fixture
def tok():
    return TOKENIZER


def _make_generator(family: str = "gpt2", seed: int = 0):
    vocab = len(TOKENIZER)
    if family in ("gpt2", "llama"):
        return tiny_causal_lm(family, vocab_size=vocab, hidden_size=16, num_layers=1, num_heads=2,
                              seed=seed)  # fmt: skip
    return tiny_seq2seq(family, vocab_size=vocab, hidden_size=16, num_layers=1, num_heads=2,
                        seed=seed)  # fmt: skip


def _make_ranker(seed: int = 0) -> Ranker:
    enc = tiny_encoder("bert", vocab_size=len(TOKENIZER), hidden_size=16, num_layers=1,
                       num_heads=2, seed=seed)  # fmt: skip
    return Ranker(enc)


@pytest.fixture
def make_generator():
    return _make_generator


@pytest.fixture
def make_ranker():
    return _make_ranker


@pytest.fixture
def generator():
    return _make_generator("gpt2")


@pytest.fixture
def ranker():
    return _make_ranker()
