import json

from bidir_lm import reproduce


def test_reproduce_writes_after_each_arm_and_reuses_finished_arms(tmp_path, monkeypatch):
    calls = []

    def fake_arm(setup):
        calls.append((setup.label, setup.seed))
        em = {"L2R": 0.1, "FIM": 0.0, "MIM": 1.0, "MIM β=0": 0.9}[setup.label] + setup.seed / 100
        return {"setup": reproduce.asdict(setup), "label": setup.label, "exact_match": em,
                "validity": em, "met": 1.0, "forward_perplexity": 3.0, "mean_steps": 3.0,
                "seconds_per_example": 0.01, "train_seconds": 1.0}  # fmt: skip

    monkeypatch.setattr(reproduce, "run_arm", fake_arm)
    reproduce.run(str(tmp_path), seeds=2, steps=5, eval_examples=4, command="cmd")
    assert len(calls) == 8
    data = json.loads((tmp_path / "bidir-lm.json").read_text())
    assert len(data["runs"]) == 8 and "environment" in data
    md = (tmp_path / "bidir-lm.md").read_text()
    assert "| MIM | 100.5 ± 0.7 (n=2)" in md and "MIM β=0" in md and "seed 1: EM +90.0 pts" in md
    calls.clear()
    reproduce.run(str(tmp_path), seeds=3, steps=5, eval_examples=4, command="cmd")
    assert calls == [("L2R", 2), ("FIM", 2), ("MIM", 2), ("MIM β=0", 2)]  # only the new seed
