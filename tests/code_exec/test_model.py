"""Prefix-LM option: source bidirectional, target causal, loss is finite and trains."""

import torch
from code_exec.model import PrefixLMTraceModel, prefix_lm_mask
from lmlab_common import tiny_encoder


def inputs(length=12, n_src=5):
    ids = torch.randint(5, 50, (2, length), generator=torch.Generator().manual_seed(0))
    is_source = torch.zeros(2, length, dtype=torch.bool)
    is_source[:, :n_src] = True
    return ids, is_source, torch.ones(2, length, dtype=torch.long)


def test_mask_shape_and_pattern():
    _, is_source, pad = inputs(6, 3)
    m = prefix_lm_mask(is_source, pad)[0, 0] == 0  # allowed
    assert m.shape == (6, 6)
    assert m[0, 2] and not m[0, 3]  # source sees all source, not target
    assert m[4, 3] and not m[3, 4] and m[5, 0]  # target causal, sees the source


def test_target_is_causal_and_source_bidirectional():
    model = PrefixLMTraceModel(tiny_encoder("bert", vocab_size=60, seed=0)).eval()
    ids, is_source, pad = inputs()
    _, base = model(ids, is_source, pad)
    changed = ids.clone()
    changed[:, 8] = 7  # a target token
    _, after = model(changed, is_source, pad)
    assert torch.allclose(base[:, :8], after[:, :8], atol=1e-5)
    assert not torch.allclose(base[:, 8:], after[:, 8:])
    changed = ids.clone()
    changed[:, 4] = 7  # the last source token changes the first source position
    _, after = model(changed, is_source, pad)
    assert not torch.allclose(base[:, 0], after[:, 0])


def test_loss_trains():
    model = PrefixLMTraceModel(tiny_encoder("bert", vocab_size=60, seed=0))
    ids, is_source, pad = inputs()
    labels = ids.masked_fill(is_source, -100)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(5):
        loss, _ = model(ids, is_source, pad, labels=labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
