"""The reproduce pipeline end to end at toy size (numbers are not checked here)."""

import json

from code_exec.reproduce import reproduce, thread_count


def test_reproduce_writes_both_ablations(tmp_path):
    report = reproduce(seeds=(0,), steps=1, out_dir=str(tmp_path), n_train=6, n_test=4)
    saved = json.loads((tmp_path / "code-exec.json").read_text())
    assert saved["runs"][0]["with_mutants"]["mutated"].keys() >= {"id_f1", "output_acc"}
    tiers = saved["curriculum_vs_mixed"][0]["curriculum"]
    assert set(tiers) == {"singleline", "tutorial", "mutated"}
    assert "trace_acc" in tiers["singleline"] and "line_f1" in tiers["tutorial"]
    table = (tmp_path / "code-exec.md").read_text()
    assert "| curriculum | mixed |" in table and "originals only" in table
    assert report["runs"] == saved["runs"]


def test_thread_count_follows_omp_num_threads(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert thread_count() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert thread_count() == 3
    for bad in ("", "0", "two"):
        monkeypatch.setenv("OMP_NUM_THREADS", bad)
        assert 1 <= thread_count() <= 2
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert 1 <= thread_count() <= 2
