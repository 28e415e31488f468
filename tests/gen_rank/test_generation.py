import pytest
import torch
from gen_rank import compute_rewards, generate_then_rank, policy_gradient_loss, sample_candidates
from gen_rank.generation import candidate_logprobs, mle_batch


@pytest.mark.parametrize("family", ["gpt2", "llama", "bart", "t5"])
def test_candidates_and_logprobs(family, tok, make_generator):
    gen = make_generator(family)
    sources = ["1 + 2 + 3", "4 + 5"]  # different lengths: decoder-only prompts are left-padded
    torch.manual_seed(0)
    c = sample_candidates(gen, tok, sources, 3, max_new_tokens=6, top_k=0)
    assert len(c.texts) == 2 and all(len(t) == 3 for t in c.texts)
    assert c.sequences.shape[0] == 6
    logp, mask = candidate_logprobs(gen, c, mask_pad_after_eos=True)
    assert logp.shape == mask.shape and logp.requires_grad
    assert (logp <= 0).all()
    # The teacher-forced log-prob of the sampled tokens matches what generate saw:
    # recompute for each candidate one at a time and compare.
    gen.eval()
    c1 = sample_candidates(gen, tok, sources[1:], 1, do_sample=False, max_new_tokens=6)
    lp1, m1 = candidate_logprobs(gen, c1)
    c2 = sample_candidates(gen, tok, sources, 1, do_sample=False, max_new_tokens=6)
    lp2, m2 = candidate_logprobs(gen, c2)
    n = int(m1[0].sum())
    torch.testing.assert_close(lp1[0, :n], lp2[1, :n], atol=1e-4, rtol=1e-4)
    _, all_mask = candidate_logprobs(gen, c, mask_pad_after_eos=False)
    assert all_mask.all() and all_mask.sum() >= mask.sum()
    batch = mle_batch(gen, tok, sources, ["A 3", "S answer 5"])
    assert gen(**batch).loss.isfinite()


def test_rewards_centre_per_source():
    s = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 3.0]])
    m = torch.tensor([[0.0, 1.0, 0.5], [1.0, 1.0, 1.0]])
    r = compute_rewards(s, m, 1.5, 1.5)
    torch.testing.assert_close(r.sum(1), torch.zeros(2))
    torch.testing.assert_close(r[0], 1.5 * (s[0] - 2) + 1.5 * (m[0] - 0.5))
    assert compute_rewards(None, m, 0.0, 1.0)[1].abs().sum() == 0
    rn = compute_rewards(s, m, 1.0, 0.0, normalize=True)
    torch.testing.assert_close(rn.std(1, unbiased=False), torch.ones(2), atol=1e-4, rtol=0)
    with pytest.raises(ValueError):
        compute_rewards(None, m, 1.0, 1.0)


def test_policy_gradient_masks_padding():
    logp = torch.tensor([[-1.0, -2.0, -50.0], [-1.0, -1.0, -1.0]], requires_grad=True)
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]], dtype=torch.bool)
    r = torch.tensor([[1.0, -1.0]])
    masked = policy_gradient_loss(logp, mask, r)
    assert float(masked) == pytest.approx(-(-3.0 + 3.0) / 5)
    official = policy_gradient_loss(logp, torch.ones_like(mask), r)
    assert float(official) == pytest.approx(-(-53.0 + 3.0) / 6)


@pytest.mark.parametrize("family", ["gpt2", "bart"])
def test_generate_then_rank(family, tok, make_generator, make_ranker):
    gen, ranker = make_generator(family), make_ranker()
    out = generate_then_rank(gen, ranker, tok, ["1 + 2", "3 + 4", "5 + 6"], 4, batch_size=2,
                             max_new_tokens=5)  # fmt: skip
    assert len(out) == 3
    for r in out:
        assert len(r.candidates) == 4 and len(r.scores) == 4
        assert r.chosen == r.candidates[r.chosen_index]
        assert r.scores[r.chosen_index] == max(r.scores)
        assert r.top == r.candidates[0]
    with pytest.raises(ValueError, match="strategy"):
        generate_then_rank(gen, ranker, tok, ["1"], 2, strategy="greedy")
    with pytest.raises(ValueError, match="sources"):
        generate_then_rank(gen, ranker, tok, [], 2)
