import pytest
import torch
from lmlab_common import tiny_causal_lm, tiny_encoder, tiny_seq2seq


@pytest.mark.parametrize("family", ["bert", "deberta-v2"])
@pytest.mark.parametrize("head", [None, "sequence_classification", "masked_lm"])
def test_encoders(family, head):
    model = tiny_encoder(family, head=head, hidden_size=32, num_layers=2, num_labels=3, seed=0)
    ids = torch.randint(5, 1000, (2, 7))
    out = model(input_ids=ids)
    if head is None:
        assert out.last_hidden_state.shape == (2, 7, 32)
    elif head == "sequence_classification":
        assert out.logits.shape == (2, 3)
    else:
        assert out.logits.shape == (2, 7, 1000)
    assert model.config.num_hidden_layers == 2


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_causal_lms(family):
    model = tiny_causal_lm(family, vocab_size=200, hidden_size=32, num_layers=3, seed=0)
    ids = torch.randint(5, 200, (2, 9))
    out = model(input_ids=ids, labels=ids)
    assert out.logits.shape == (2, 9, 200) and out.loss.ndim == 0
    assert model.config.pad_token_id == 0 and model.config.eos_token_id == 3


@pytest.mark.parametrize("family", ["bart", "t5"])
def test_seq2seq(family):
    model = tiny_seq2seq(family, vocab_size=200, hidden_size=32, seed=0)
    ids = torch.randint(5, 200, (2, 9))
    out = model(input_ids=ids, labels=ids[:, :5].contiguous())
    assert out.logits.shape == (2, 5, 200)
    generated = model.generate(ids, max_new_tokens=4, do_sample=False)
    assert generated.shape[0] == 2


def test_seed_makes_weights_repeat_and_keeps_global_rng():
    torch.manual_seed(5)
    expected = torch.rand(1)
    torch.manual_seed(5)
    a = tiny_encoder(seed=1)
    after = torch.rand(1)
    b = tiny_encoder(seed=1)
    c = tiny_encoder(seed=2)
    assert torch.equal(after, expected)
    pairs = list(zip(a.parameters(), b.parameters(), strict=True))
    assert all(torch.equal(p, q) for p, q in pairs)
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters(), strict=True))


@pytest.mark.parametrize(
    ("factory", "kwargs", "message"),
    [
        (tiny_encoder, {"family": "roberta"}, "family='roberta'"),
        (tiny_encoder, {"head": "qa"}, "head='qa'"),
        (tiny_encoder, {"hidden_size": 30, "num_heads": 4}, "hidden_size=30"),
        (tiny_causal_lm, {"num_layers": 0}, "num_layers=0"),
        (tiny_seq2seq, {"family": "gpt2"}, "family='gpt2'"),
    ],
)
def test_bad_sizes_and_families(factory, kwargs, message):
    with pytest.raises(ValueError, match=message):
        factory(**kwargs)
