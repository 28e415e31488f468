import pytest
import torch
import torch.nn.functional as F
from task_distill import causal_lm_loss, kd_loss, layer_mse_loss, make_filter, ted_loss


def test_kd_loss_matches_official_formula():
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    official = F.kl_div(F.log_softmax(s / 2, -1), F.softmax(t / 2, -1), reduction="batchmean") * 4
    assert torch.allclose(kd_loss(s, t, 2.0), official, atol=1e-6)
    assert float(kd_loss(t, t)) == pytest.approx(0.0, abs=1e-6)


def test_kd_loss_is_kl_teacher_to_student_not_reverse():
    s = torch.tensor([[2.0, 0.0, -1.0]])
    t = torch.tensor([[0.0, 3.0, 0.0]])
    forward = kd_loss(s, t, 1.0)
    reverse = kd_loss(t, s, 1.0)
    p_t, p_s = F.softmax(t, -1), F.softmax(s, -1)
    assert torch.allclose(forward, (p_t * (p_t.log() - p_s.log())).sum(), atol=1e-6)
    assert not torch.allclose(forward, reverse)


def test_kd_loss_mask_drops_rows_and_one_logit_is_zero():
    s, t = torch.randn(2, 4, 6), torch.randn(2, 4, 6)
    mask = torch.zeros(2, 4, dtype=torch.bool)
    mask[0, :2] = True
    assert torch.allclose(kd_loss(s, t, 2.0, mask), kd_loss(s[0, :2], t[0, :2], 2.0), atol=1e-6)
    assert float(kd_loss(torch.randn(4, 1), torch.randn(4, 1))) == 0.0


def test_kd_loss_bad_input():
    with pytest.raises(ValueError, match="same tokenizer"):
        kd_loss(torch.randn(2, 5), torch.randn(2, 6))
    with pytest.raises(ValueError, match="temperature"):
        kd_loss(torch.randn(2, 5), torch.randn(2, 5), 0.0)


def test_layer_mse_masks_padding_and_averages_pairs():
    a, b = torch.zeros(1, 3, 2), torch.zeros(1, 3, 2)
    b[0, 2] = 10.0  # a padding position
    mask = torch.tensor([[1, 1, 0]])
    assert float(layer_mse_loss(a, b, mask)) == 0.0
    assert float(layer_mse_loss(a, b)) == pytest.approx(100.0 / 3)  # official: padding counts
    two = layer_mse_loss([a, a], [b, torch.zeros_like(b)])
    assert float(two) == pytest.approx(100.0 / 6)
    with pytest.raises(ValueError, match="same width"):
        layer_mse_loss(torch.zeros(1, 3, 2), torch.zeros(1, 3, 4))
    with pytest.raises(ValueError, match="paired layers"):
        layer_mse_loss([a], [b, b])


def test_layer_mse_gradient_only_reaches_student():
    s = torch.randn(2, 3, 4, requires_grad=True)
    t = torch.randn(2, 3, 4, requires_grad=True)
    layer_mse_loss(s, t).backward()
    assert s.grad is not None and t.grad is None


def test_ted_loss_combines_terms():
    task = torch.tensor(0.5)
    s, t = torch.randn(4, 3), torch.randn(4, 3)
    hs, ht = [torch.randn(4, 5, 6)], [torch.randn(4, 5, 6)]
    out = ted_loss(task, s, t, hs, ht, kl_alpha=2.0, mse_alpha=3.0, temperature=2.0)
    expect = 0.5 + 2.0 * kd_loss(s, t, 2.0) + 3.0 * layer_mse_loss(hs, ht)
    assert torch.allclose(out["loss"], expect)
    assert float(ted_loss(task)["loss"]) == 0.5
    with pytest.raises(ValueError, match="kl_alpha"):
        ted_loss(task, kl_alpha=1.0)
    with pytest.raises(ValueError, match="mse_alpha"):
        ted_loss(task, mse_alpha=1.0)


def test_make_filter_shapes_and_causal_lm_loss():
    x = torch.randn(2, 5, 8)
    assert make_filter(8, 12)(x).shape == (2, 5, 12)
    nonlin = make_filter(8, 12, nonlinear=True)
    assert nonlin(x).shape == (2, 5, 12) and len(nonlin) == 3
    logits = torch.randn(2, 5, 7)
    labels = torch.randint(0, 7, (2, 5))
    expect = F.cross_entropy(logits[:, :-1].reshape(-1, 7), labels[:, 1:].reshape(-1))
    assert torch.allclose(causal_lm_loss(logits, labels), expect)
