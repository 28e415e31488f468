import dataclasses
import json

import pytest
from lmlab_common import ConfigBase, require, require_choice, require_range


@dataclasses.dataclass
class ToyConfig(ConfigBase):
    rank: int = 8
    ratio: float = 0.5
    targets: tuple[str, ...] = ("query", "value")
    mode: str = "rows"

    def __post_init__(self):
        require(isinstance(self.rank, int) and self.rank > 0, "rank", self.rank, "an int > 0")
        require_range("ratio", self.ratio, 0, 1, low_inclusive=False)
        require_choice("mode", self.mode, ["rows", "columns"])
        self.targets = tuple(self.targets)


def test_dict_and_json_round_trip():
    cfg = ToyConfig(rank=4, ratio=0.25, targets=("dense",), mode="columns")
    data = cfg.to_dict()
    assert data == {"rank": 4, "ratio": 0.25, "targets": ["dense"], "mode": "columns"}
    assert ToyConfig.from_dict(data) == cfg
    assert ToyConfig.from_json(cfg.to_json()) == cfg
    json.loads(cfg.to_json())


def test_save_and_load_pretrained(tmp_path):
    cfg = ToyConfig(rank=3)
    path = cfg.save_pretrained(tmp_path / "out")
    assert path.endswith("config.json")
    assert ToyConfig.from_pretrained(tmp_path / "out") == cfg
    with pytest.raises(FileNotFoundError, match="config.json"):
        ToyConfig.from_pretrained(tmp_path / "missing")


def test_unknown_field_is_named():
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['rnk'\]"):
        ToyConfig.from_dict({"rnk": 3})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rank": 0}, r"rank=0 is invalid; allowed: an int > 0"),
        ({"ratio": 0.0}, r"ratio=0.0 is invalid; allowed: a number in \(0, 1\]"),
        ({"ratio": 1.5}, r"ratio=1.5 is invalid"),
        ({"ratio": "half"}, r"ratio='half' is invalid"),
        ({"mode": "diag"}, r"mode='diag' is invalid; allowed: one of 'rows', 'columns'"),
    ],
)
def test_validation_names_field_value_and_allowed(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ToyConfig(**kwargs)


def test_replace_validates():
    cfg = ToyConfig()
    assert cfg.replace(rank=2).rank == 2
    with pytest.raises(ValueError, match="rank=-1"):
        cfg.replace(rank=-1)


def test_require_range_open_ended():
    require_range("x", 5, low=0)
    with pytest.raises(ValueError, match=r"\[0, inf\]"):
        require_range("x", -1, low=0)
    with pytest.raises(ValueError, match="x=True"):
        require_range("x", True, low=0)
