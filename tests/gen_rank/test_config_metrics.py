import json
import math

import pytest
from gen_rank import JGRConfig, chain_metric, get_metric, score_candidates, summarization_score
from gen_rank.metrics import bleu, dialog_bleu_score, rouge_l
from gen_rank.synthetic import careful_chain, parse_chain


def cfg(tmp_path, **kw):
    return JGRConfig(output_dir=str(tmp_path), use_cpu=True, report_to="none", **kw)


def test_official_defaults(tmp_path):
    c = cfg(tmp_path)
    assert (c.generator_num_cand_generated, c.num_cand_generated, c.num_cand_picked) == (8, 16, 3)
    assert (c.ranker_reward_scaler, c.metric_reward_scaler) == (1.5, 1.5)
    assert c.generator_supervised_lambda == 1.0 and c.normalize_rewards is False
    assert (c.iteration_steps, c.iteration_ranker_steps) == (200, 100)
    assert c.candidate_pick_strategy == "bottom" and c.ranker_loss_type == "contrastive"
    assert c.mask_pad_after_eos is True
    assert json.loads(json.dumps(c.jgr_fields()))["num_cand_generated"] == 16


def test_schedule(tmp_path):
    c = cfg(tmp_path, iteration_steps=5, iteration_ranker_steps=2)
    assert [c.phase(s) for s in range(7)] == ["ranker"] * 2 + ["generator"] * 3 + ["ranker"] * 2
    assert cfg(tmp_path, iteration_steps=3, iteration_ranker_steps=0).phase(0) == "generator"
    assert cfg(tmp_path, iteration_steps=3, iteration_ranker_steps=3).phase(2) == "ranker"


@pytest.mark.parametrize(
    "kw, field",
    [
        ({"num_cand_generated": 4, "num_cand_picked": 5}, "num_cand_picked"),
        ({"ranker_loss_type": "hinge"}, "ranker_loss_type"),
        ({"candidate_pick_strategy": "best"}, "candidate_pick_strategy"),
        ({"iteration_steps": 4, "iteration_ranker_steps": 5}, "iteration_ranker_steps"),
        ({"metric_reward_scaler": -1.0}, "metric_reward_scaler"),
        ({"temperature": 0.0}, "temperature"),
    ],
)
def test_bad_config(tmp_path, kw, field):
    with pytest.raises(ValueError, match=field):
        cfg(tmp_path, **kw)


def test_fewer_sampled_than_picked_message(tmp_path):
    with pytest.raises(ValueError, match="cannot pick more candidates than were sampled"):
        cfg(tmp_path, num_cand_generated=2, num_cand_picked=3)


def test_chain_metric_is_graded():
    ref = careful_chain(3, [4, 2, 7])
    assert ref == "A 3 + 4 = 7 ; 7 + 2 = 9 ; 9 + 7 = 6 ; answer 6"
    b = careful_chain(3, [4, 2, 7], "B")
    c = careful_chain(3, [4, 2, 7], "C")
    assert parse_chain(c) == ([7, 9, 6], 6)
    slipped = careful_chain(3, [4, 2, 7], "A", [None, 1, None])  # step 2 wrong, carried on
    scores = chain_metric([ref, b, c, slipped, "S answer 7", "", "junk = ="], [ref] * 7)
    assert scores[:3] == [1.0, 1.0, 1.0]
    assert scores[3] == pytest.approx(1 / 4)
    assert scores[4] == 0.0 and scores[5] == 0.0 and scores[6] == 0.0


def test_official_combined_scores():
    ref = "the cat sat on the mat"
    s = summarization_score([ref, "a dog ran"], [ref, ref])
    assert s[0] == pytest.approx(1 / 0.45 + 1 / 0.2 + 1 / 0.4) and s[1] < s[0]
    assert rouge_l([ref], [ref]) == [pytest.approx(1.0)]
    assert bleu([ref], [ref])[0] == pytest.approx(1.0)
    assert dialog_bleu_score([ref], [ref])[0] == pytest.approx(1 / 0.5 + 1 / 0.4)
    assert get_metric("chain") is chain_metric


def test_metric_bad_input():
    with pytest.raises(ValueError, match="non-finite"):
        score_candidates(lambda c, r: [math.nan] * len(c), ["a"], ["b"])
    with pytest.raises(ValueError, match="references"):
        score_candidates(chain_metric, ["a"], [""])
    with pytest.raises(ValueError, match="references"):
        score_candidates(chain_metric, [], [])
    with pytest.raises(ValueError, match="one per candidate"):
        score_candidates(lambda c, r: [1.0], ["a", "b"], ["x", "y"])
    with pytest.raises(ValueError, match="metric"):
        get_metric("meteor")
