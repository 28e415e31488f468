import pytest
from lmlab_common import tiny_encoder
from step_verifier import StepAwareVerifier, VerifierConfig, synthetic_tokenizer
from step_verifier.synthetic import SyntheticTask


@pytest.fixture
def tokenizer():
    return synthetic_tokenizer()


@pytest.fixture
def verifier(tokenizer):
    encoder = tiny_encoder(
        "bert",
        "token_classification",
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_layers=1,
        num_heads=2,
        num_labels=5,
        seed=0,
    )
    return StepAwareVerifier(encoder, tokenizer, VerifierConfig(max_length=128))


@pytest.fixture
def problems():
    """6 synthetic problems, each with 4 paths drawn from the strategy mixture."""
    return SyntheticTask(seed=3).problems(6, paths=4)
