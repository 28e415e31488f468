"""An interrupted `vl-ground reproduce` keeps its finished seeds and runs only the rest."""

import dataclasses
import json

import pytest
from vl_ground import reproduce as repro


def fake_claim(setup):
    arm = {"ground_heldout": 0.5, "ground_seen": 0.9, "vqa": 0.4, "caption_f1": 0.1}
    baselines = {"largest_object": 0.3, "centre_object": 0.3, "random_object": 0.3}
    return {
        "setup": dataclasses.asdict(setup),
        "with_alignment": dict(arm),
        "without_alignment": dict(arm),
        "baselines_heldout": baselines,
        "n_heldout_items": 50,
    }


def test_finished_seeds_are_kept_after_an_interruption(tmp_path, monkeypatch):
    calls = []

    def interrupted(setup):
        calls.append(setup.seed)
        if setup.seed == 1:
            raise KeyboardInterrupt
        return fake_claim(setup)

    monkeypatch.setattr(repro, "run_claim", interrupted)
    with pytest.raises(KeyboardInterrupt):
        repro.reproduce(str(tmp_path), seeds=3)
    assert [
        r["setup"]["seed"] for r in json.loads((tmp_path / "vl-ground.json").read_text())["runs"]
    ] == [0]

    calls.clear()
    monkeypatch.setattr(repro, "run_claim", lambda s: calls.append(s.seed) or fake_claim(s))
    result = repro.reproduce(str(tmp_path), seeds=3)
    assert calls == [1, 2]
    assert [r["setup"]["seed"] for r in result["runs"]] == [0, 1, 2]
    assert "± " in (tmp_path / "vl-ground.md").read_text()

    calls.clear()  # another step count is another experiment: nothing is reused
    repro.reproduce(str(tmp_path), seeds=1, steps=100)
    assert calls == [0]
