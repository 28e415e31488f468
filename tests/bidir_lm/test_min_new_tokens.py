"""``min_new_tokens``: no method returns a middle shorter than asked, batched rows included.

Each case forces the situation that ends a fill at once: a forward hook makes one token the
model's clear favourite, and the suffix (L2R, MIM) starts with that token, or the token is
``<fim_end>`` (FIM). Without the option the middle is empty after one step; with it, it is not.
"""

import contextlib

import pytest
from bidir_lm import infill_ids

from .conftest import make_model

X, Y = 9, 20  # ordinary tokens of the toy vocabulary, made a model's favourite


@contextlib.contextmanager
def favour(lm, token: int, boost: float = 50.0):
    """Add ``boost`` to ``token``'s logit at every position of ``lm``'s outputs."""

    def hook(module, args, output):
        output.logits[..., token] += boost
        return output

    handle = lm.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def test_mim_meets_at_the_first_step_with_an_empty_middle_unless_a_minimum_is_set(tokenizer):
    model = make_model(tokenizer, sharing="separate").eval()
    # The forward side's favourite X starts every suffix and the backward side's favourite Y
    # ends every prefix: at step 1 the only junction is the empty middle, and both directions
    # accept it (each boundary token is that side's most likely token).
    prefixes = [[5, 6, Y], [7, Y], [5, 8, 10, 11, Y]]
    suffixes = [[X, 12, 13], [X, 15], [X, 17, 18, 19]]
    with favour(model.forward_model, X), favour(model.backward_model, Y):
        free = infill_ids(model, prefixes, suffixes, 6, "mim", show_progress=False)
        assert [(r.middle_ids, r.met, r.steps) for r in free] == [([], True, 1)] * 3
        for minimum in (1, 3):
            kept = infill_ids(
                model, prefixes, suffixes, 6, "mim", min_new_tokens=minimum, show_progress=False
            )
            assert all(len(r.middle_ids) >= minimum for r in kept), (minimum, kept)
            assert all(r.steps > 1 for r in kept)
            alone = [
                infill_ids(model, [p], [s], 6, "mim", min_new_tokens=minimum)[0]
                for p, s in zip(prefixes, suffixes, strict=True)
            ]
            assert [r.middle_ids for r in kept] == [r.middle_ids for r in alone]
    # Both sides favour X and the context around the gap is X: the empty middle and [X] both
    # pass at step 1; with a minimum of 1 the sides meet on [X] at once.
    prefixes = [[5, 6, X], [7, X]]
    suffixes = [[X, 12, 13], [X, 15]]
    with favour(model.forward_model, X), favour(model.backward_model, X):
        kept = infill_ids(model, prefixes, suffixes, 6, "mim", min_new_tokens=1)
    assert [(r.middle_ids, r.met, r.steps) for r in kept] == [([X], True, 1)] * 2


def test_l2r_keeps_an_early_stop_token_as_a_middle_token(model):
    prefixes = [[5, 6], [7, 8, 10, 11]]
    suffixes = [[X, 12], [X]]
    with favour(model.forward_model, X):
        free = infill_ids(model, prefixes, suffixes, 6, "l2r", show_progress=False)
        kept = infill_ids(
            model, prefixes, suffixes, 6, "l2r", min_new_tokens=2, show_progress=False
        )
    assert [(r.middle_ids, r.met, r.steps) for r in free] == [([], True, 1)] * 2
    # X is kept for the first two tokens, then it is the stop marker again.
    assert [(r.middle_ids, r.met, r.steps) for r in kept] == [([X, X], True, 3)] * 2


def test_fim_masks_fim_end_until_the_minimum(model):
    fim_end = model.bidir_config.fim_end_id
    prefixes = [[5, 6], [7, 8, 10, 11]]
    suffixes = [[12, 13], [14]]
    with favour(model.forward_model, fim_end):
        free = infill_ids(model, prefixes, suffixes, 6, "fim", show_progress=False)
        kept = infill_ids(
            model, prefixes, suffixes, 6, "fim", min_new_tokens=2, show_progress=False
        )
    assert [(r.middle_ids, r.met, r.steps) for r in free] == [([], True, 1)] * 2
    for r in kept:
        assert len(r.middle_ids) == 2 and fim_end not in r.middle_ids
        assert r.met and r.steps == 3


def test_default_is_unchanged_and_bad_minimum_is_an_error(model):
    prefixes, suffixes = [[5, 6, 7], [8]], [[13, 14], [15, 16, 17]]
    for method in ("mim", "l2r", "fim"):
        default = infill_ids(model, prefixes, suffixes, 6, method)
        zero = infill_ids(model, prefixes, suffixes, 6, method, min_new_tokens=0)
        assert [r.middle_ids for r in default] == [r.middle_ids for r in zero]
    with pytest.raises(ValueError, match="min_new_tokens=7 is invalid; allowed: at most"):
        infill_ids(model, [[5]], [[6]], 6, "mim", min_new_tokens=7)
    with pytest.raises(ValueError, match="min_new_tokens=-1"):
        infill_ids(model, [[5]], [[6]], 6, "l2r", min_new_tokens=-1)
