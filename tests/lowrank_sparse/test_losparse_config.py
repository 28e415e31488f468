import math

import pytest
from lowrank_sparse import LoSparseConfig, budget_config, rank_from_ratio


def test_round_trip(tmp_path):
    config = LoSparseConfig(low_rank_ratio=0.1, final_sparse_ratio=0.2, beta2=0.9)
    assert LoSparseConfig.from_json(config.to_json()) == config
    config.save_pretrained(tmp_path)
    assert LoSparseConfig.from_pretrained(tmp_path) == config
    auto = budget_config(0.2, low_rank_ratio="auto")
    assert LoSparseConfig.from_dict(auto.to_dict()) == auto


def test_official_defaults():
    c = LoSparseConfig()
    assert (c.low_rank_ratio, c.final_sparse_ratio, c.beta1, c.beta2, c.delta_t) == (
        0.05,
        0.1,
        0.85,
        1.0,
        10,
    )
    assert (c.warmup_steps, c.initial_warmup, c.final_warmup) == (6400, 1, 3)
    assert c.importance == "sensitivity" and c.structured_direction == "row"


def test_rank_formula():
    # ceil(rho * d1 d2 / (d1 + d2)): the worked examples of the research note.
    assert rank_from_ratio(0.05, 768, 768) == 20
    assert rank_from_ratio(0.05, 3072, 768) == 31
    assert rank_from_ratio(0.05, 384, 384) == 10
    assert rank_from_ratio(0.05, 1536, 384) == math.ceil(0.05 * 1536 * 384 / 1920)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("low_rank_ratio", 0.0),
        ("low_rank_ratio", 1.5),
        ("low_rank_ratio", "best"),
        ("final_sparse_ratio", -0.1),
        ("final_sparse_ratio", 1.1),
        ("budget", 0.0),
        ("budget", 2.0),
        ("rank", 0),
        ("method", "svd"),
        ("importance", "taylor"),
        ("structured_direction", "diag"),
        ("beta1", 1.0),
        ("beta2", 0.0),
        ("delta_t", 0),
        ("target_modules", []),
    ],
)
def test_bad_values_name_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        LoSparseConfig(**{field: value})


def test_budget_config_rejects_split_larger_than_budget():
    with pytest.raises(ValueError, match="low_rank_ratio"):
        budget_config(0.1, low_rank_ratio=0.2)
    with pytest.raises(ValueError, match="budget"):
        budget_config(1.5)
