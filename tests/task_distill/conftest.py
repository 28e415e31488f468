import copy

import pytest
from lmlab_common import tiny_causal_lm, tiny_encoder
from task_distill import PadCollator
from task_distill.tasks import NuisanceTask

TASK = NuisanceTask(min_len=6, max_len=8)


@pytest.fixture
def task():
    return TASK


@pytest.fixture(scope="session")
def _cls_data():
    return TASK.dataset(48, split_seed=1).remove_columns("styles")


@pytest.fixture
def cls_data(_cls_data):
    return _cls_data


@pytest.fixture(scope="session")
def _pristine():
    """Built once per session: teacher BERT 4×32, student BERT 2×16, GPT-2 pair 4×32 / 2×16."""
    common = dict(vocab_size=TASK.vocab_size, num_heads=2)
    return {
        "teacher": tiny_encoder(
            "bert", "sequence_classification", hidden_size=32, num_layers=4, seed=0, **common
        ),
        "student": tiny_encoder(
            "bert", "sequence_classification", hidden_size=16, num_layers=2, seed=1, **common
        ),
        "lm_teacher": tiny_causal_lm(
            "gpt2", vocab_size=53, hidden_size=32, num_layers=4, num_heads=2, seed=0
        ),
        "lm_student": tiny_causal_lm(
            "gpt2", vocab_size=53, hidden_size=16, num_layers=2, num_heads=2, seed=1
        ),
    }


@pytest.fixture
def fresh(_pristine):
    """``fresh("student")``: an untouched copy of a session model (tests train in place)."""
    return lambda name: copy.deepcopy(_pristine[name])


@pytest.fixture
def teacher(fresh):
    return fresh("teacher")


@pytest.fixture
def student(fresh):
    return fresh("student")


@pytest.fixture
def lm_pair(fresh):
    return fresh("lm_teacher"), fresh("lm_student")


@pytest.fixture
def collate():
    return PadCollator()
