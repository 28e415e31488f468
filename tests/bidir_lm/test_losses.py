import pytest
import torch
import torch.nn.functional as F
from bidir_lm import divergence, mim_terms, reverse_valid

from .conftest import make_model


def test_reverse_valid_reverses_only_real_tokens():
    x = torch.tensor([[1, 2, 3, 4], [5, 6, 0, 0]])
    out = reverse_valid(x, torch.tensor([4, 2]))
    assert out.tolist() == [[4, 3, 2, 1], [6, 5, 0, 0]]
    y = torch.arange(2 * 4 * 3).view(2, 4, 3)
    assert torch.equal(reverse_valid(y, torch.tensor([4, 2]))[1, 0], y[1, 1])
    assert torch.equal(
        reverse_valid(reverse_valid(y, torch.tensor([3, 1])), torch.tensor([3, 1])), y
    )


@pytest.mark.parametrize("sharing", ["shared", "separate"])
def test_alignment_matches_brute_force_per_position(tokenizer, batch, sharing):
    """p_f(x_j | x_<j) and p_b(x_j | x_>j), computed one prefix/suffix at a time, equal the
    aligned batched logits at position j — for every row, including a padded one."""
    model = make_model(tokenizer, sharing=sharing, seed=3).eval()
    cfg = model.bidir_config
    input_ids, mask = batch
    with torch.no_grad():
        f_logits, b_logits = model.direction_logits(input_ids, mask)
        b_aligned = reverse_valid(b_logits, mask.sum(1))
        for row in range(input_ids.shape[0]):
            x = input_ids[row, : int(mask[row].sum())].tolist()
            for j in range(len(x)):
                left = torch.tensor([[cfg.forward_token_id, *x[:j]]])
                right = torch.tensor([[cfg.backward_token_id, *x[j + 1 :][::-1]]])
                pf = model.lm("forward")(input_ids=left).logits[0, -1]
                pb = model.lm("backward")(input_ids=right).logits[0, -1]
                torch.testing.assert_close(f_logits[row, j], pf, atol=1e-4, rtol=1e-4)
                torch.testing.assert_close(b_aligned[row, j], pb, atol=1e-4, rtol=1e-4)


def test_loss_terms_equal_brute_force(tokenizer, batch):
    model = make_model(tokenizer, seed=1).eval()
    input_ids, mask = batch
    with torch.no_grad():
        out = model(input_ids, mask, beta=0.5, divergence="kl")
        f_logits, b_logits = model.direction_logits(input_ids, mask)
    b_aligned = reverse_valid(b_logits, mask.sum(1))
    real = mask.bool()
    ce_f = F.cross_entropy(f_logits[real], input_ids[real])
    ce_b = F.cross_entropy(b_aligned[real], input_ids[real])
    kl = F.kl_div(
        b_aligned[real].log_softmax(-1),
        f_logits[real].log_softmax(-1),
        log_target=True,
        reduction="batchmean",
    )
    torch.testing.assert_close(out["ce_forward"], ce_f)
    torch.testing.assert_close(out["ce_backward"], ce_b)
    torch.testing.assert_close(out["agreement"], kl)
    torch.testing.assert_close(out["loss"], ce_f + ce_b + 0.5 * kl)


def test_divergences():
    p, q = torch.randn(5, 7), torch.randn(5, 7)
    for kind in ("tv", "kl", "skl"):
        assert torch.allclose(divergence(p, p, kind), torch.zeros(5), atol=1e-6)
    tv = divergence(p, q, "tv")
    assert (tv > 0).all() and (tv <= 1).all()
    manual = 0.5 * (p.softmax(-1) - q.softmax(-1)).abs().sum(-1)
    torch.testing.assert_close(tv, manual)
    torch.testing.assert_close(divergence(p, q, "skl"), divergence(q, p, "skl"))
    torch.testing.assert_close(
        divergence(p, q, "skl"), divergence(p, q, "kl") + divergence(q, p, "kl")
    )
    with pytest.raises(ValueError, match="divergence='js'"):
        divergence(p, q, "js")


@pytest.mark.parametrize("stop", ["forward", "backward", "none"])
def test_stop_gradient_blocks_one_side_of_the_agreement(stop):
    ids = torch.tensor([[1, 2, 3], [2, 3, 0]])
    lengths = torch.tensor([3, 2])
    f = torch.randn(2, 3, 5, requires_grad=True)
    b = torch.randn(2, 3, 5, requires_grad=True)
    terms = mim_terms(f, b, ids, lengths, beta=1.0, kind="tv", stop_gradient=stop)
    gf, gb = torch.autograd.grad(terms["agreement"], [f, b], allow_unused=True, retain_graph=True)
    assert (gf is None or gf.abs().sum() == 0) == (stop == "forward")
    assert (gb is None or gb.abs().sum() == 0) == (stop == "backward")
    # padding positions never get gradient
    gf, gb = torch.autograd.grad(terms["loss"], [f, b])
    assert gf[1, 2].abs().sum() == 0 and gb[1, 2].abs().sum() == 0
