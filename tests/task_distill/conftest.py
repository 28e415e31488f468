import pytest
from lmlab_common import tiny_causal_lm, tiny_encoder
from task_distill import PadCollator
from task_distill.tasks import NuisanceTask

TASK = NuisanceTask(min_len=6, max_len=8)


@pytest.fixture
def task():
    return TASK


@pytest.fixture
def cls_data():
    return TASK.dataset(48, split_seed=1).remove_columns("styles")


@pytest.fixture
def teacher():
    return tiny_encoder(
        "bert",
        "sequence_classification",
        vocab_size=TASK.vocab_size,
        hidden_size=32,
        num_layers=4,
        num_heads=2,
        seed=0,
    )


@pytest.fixture
def student():
    return tiny_encoder(
        "bert",
        "sequence_classification",
        vocab_size=TASK.vocab_size,
        hidden_size=16,
        num_layers=2,
        num_heads=2,
        seed=1,
    )


@pytest.fixture
def lm_pair():
    t = tiny_causal_lm("gpt2", vocab_size=53, hidden_size=32, num_layers=4, num_heads=2, seed=0)
    s = tiny_causal_lm("gpt2", vocab_size=53, hidden_size=16, num_layers=2, num_heads=2, seed=1)
    return t, s


@pytest.fixture
def collate():
    return PadCollator()
