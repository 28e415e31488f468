import pytest
import torch
from bidir_lm import InfillResult, infill, infill_ids
from bidir_lm.decoding import Stepper, score_rows
from bidir_lm.infilling import _candidates

from .conftest import make_model


def test_stepper_with_cache_and_left_padding_equals_full_forward(model):
    lm = model.forward_model.eval()
    rows = [[5, 6, 7, 8, 9], [10, 11]]
    stepper = Stepper(lm, rows, pad_id=0)
    with torch.no_grad():
        logits = stepper.start()
        extra = torch.tensor([12, 13])
        logits2 = stepper.step(extra)
        for i, row in enumerate(rows):
            full = lm(input_ids=torch.tensor([row + [int(extra[i])]])).logits[0].float()
            torch.testing.assert_close(logits[i], full[-2], atol=1e-4, rtol=1e-4)
            torch.testing.assert_close(logits2[i], full[-1], atol=1e-4, rtol=1e-4)


def test_score_rows_ratio_and_logprob(model):
    lm = model.forward_model.eval()
    with torch.no_grad():
        row = [5, 6, 7, 8]
        logp = lm(input_ids=torch.tensor([row])).logits[0].float().log_softmax(-1)
        ratio, mean_lp = score_rows(lm, [row, row[:2]], [2, 5], pad_id=0)
    expect = [float(logp[t - 1, row[t]] - logp[t - 1].max()) for t in (2, 3)]
    assert ratio[0].item() == pytest.approx(torch.tensor(min(expect)).exp().item(), rel=1e-4)
    assert mean_lp[0].item() == pytest.approx(float(logp[1, 7] + logp[2, 8]) / 2, rel=1e-4)
    assert ratio[1].item() == 1.0 and mean_lp[1].item() == 0.0  # nothing to check


def test_meet_candidates():
    p, s = [1, 2], [8, 9]
    # forward made [3, 4, 5], backward made (right to left) [7, 5]: newest 5 meets g_2 = 5
    assert [3, 4, 5, 7] in _candidates(p, s, [3, 4, 5], [7, 5])
    # forward's newest token is the first suffix token: the middle is everything before it
    assert [3, 4] in _candidates(p, s, [3, 4, 8], [6])
    # backward's newest token is the last prefix token
    assert [6, 7] in _candidates(p, s, [3], [7, 6, 2])
    # backward's newest token meets forward's f_2
    assert [3, 4, 6, 7] in _candidates(p, s, [3, 4, 5], [7, 6, 4])
    assert _candidates(p, s, [3], [7]) == []


def test_infill_returns_typed_results_within_budget(model, tokenizer):
    out = infill(
        model,
        tokenizer,
        ["a = 1 ;", "b = 2 ; c = 3 ;"],
        ["print x ;", "print y ;"],
        max_new_tokens=5,
        method="mim",
        show_progress=False,
    )
    assert len(out) == 2 and all(isinstance(r, InfillResult) for r in out)
    for r in out:
        assert len(r.middle_ids) <= 5 and r.method == "mim" and 1 <= r.steps <= 5
        assert isinstance(r.middle, str)
    one = infill(model, tokenizer, "a = 1 ;", "print x ;", max_new_tokens=4, method="l2r")
    assert isinstance(one, InfillResult) and one.steps <= 4
    fim = infill(model, tokenizer, "a = 1 ;", "print x ;", max_new_tokens=4, method="fim")
    assert fim.method == "fim" and len(fim.middle_ids) <= 4


def test_batched_equals_one_by_one(model):
    prefixes = [[5, 6, 7], [8], [9, 10, 11, 12]]
    suffixes = [[13, 14], [15, 16, 17], [18]]
    for method in ("mim", "l2r", "fim"):
        together = infill_ids(model, prefixes, suffixes, 6, method, show_progress=False)
        alone = [
            infill_ids(model, [p], [s], 6, method, show_progress=False)[0]
            for p, s in zip(prefixes, suffixes, strict=True)
        ]
        assert [r.middle_ids for r in together] == [r.middle_ids for r in alone]


def test_separate_models_infill(tokenizer):
    model = make_model(tokenizer, sharing="separate")
    out = infill_ids(model, [[5, 6]], [[7, 8]], 4, "mim", show_progress=False)
    assert len(out) == 1 and len(out[0].middle_ids) <= 4


def test_bad_input(model, tokenizer):
    with pytest.raises(ValueError, match="exceeds the model's context of 64"):
        infill_ids(model, [[5] * 40], [[6] * 20], 8, "mim")
    with pytest.raises(ValueError, match="max_new_tokens=0"):
        infill_ids(model, [[5]], [[6]], 0)
    with pytest.raises(ValueError, match="method='gpt'"):
        infill_ids(model, [[5]], [[6]], 4, "gpt")
    with pytest.raises(ValueError, match="both be strings"):
        infill(model, tokenizer, "a", ["b"])
