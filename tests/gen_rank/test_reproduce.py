"""``reproduce`` end to end on the tiny QUICK budget: every arm and comparison is reported,
and a rerun reuses the finished seed instead of training it again."""

import json

import torch
from gen_rank import reproduce


def test_quick_reproduce_reports_every_arm_and_resumes(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    data = reproduce.run(str(tmp_path), 1, quick=True)
    assert set(data["arms"]) == {"ranker_check", *reproduce.ARMS}
    assert {c[0] for c in reproduce.COMPARISONS} == set(data["comparisons"])
    for comp in data["comparisons"].values():
        lo, hi = comp["ci95"]
        assert lo <= comp["mean"] <= hi
    report = json.loads((tmp_path / "gen-rank.json").read_text())
    assert report["seeds_done"] == 1
    assert "JGR-G − MLE-G" in (tmp_path / "gen-rank.md").read_text()

    def fail(*a, **k):
        raise AssertionError("a finished seed was trained again")

    monkeypatch.setattr(reproduce, "run_seed", fail)
    again = reproduce.run(str(tmp_path), 1, quick=True)
    assert again["comparisons"] == data["comparisons"]
