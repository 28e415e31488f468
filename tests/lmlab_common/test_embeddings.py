import pytest
import torch
from lmlab_common import embed, load_minilm, mean_pool


def test_mean_pool_ignores_padding():
    hidden = torch.tensor([[[1.0, 1.0], [3.0, 3.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert torch.equal(mean_pool(hidden, mask), torch.tensor([[2.0, 2.0]]))
    assert torch.equal(mean_pool(hidden, torch.zeros(1, 3)), torch.zeros(1, 2))


@pytest.fixture(scope="module")
def minilm():
    return load_minilm()


def test_embed_minilm_is_normalised_batched_and_batch_size_invariant(minilm):
    model, tokenizer = minilm
    sentences = [
        "A man is playing a guitar.",
        "Someone plays the guitar.",
        "The stock market fell sharply today.",
    ]
    full = embed(model, tokenizer, sentences, batch_size=3)
    one = embed(model, tokenizer, sentences, batch_size=1)
    assert full.shape == (3, 384)
    assert torch.allclose(full.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert torch.allclose(full, one, atol=1e-5)
    sims = full @ full.T
    assert sims[0, 1] > sims[0, 2]  # the paraphrase is nearer than the unrelated sentence
    raw = embed(model, tokenizer, sentences[:1], normalize=False)
    assert raw.norm() > 1.5
    assert embed(model, tokenizer, []).shape == (0, 384)
    with pytest.raises(ValueError, match="batch_size=0"):
        embed(model, tokenizer, sentences, batch_size=0)
