"""Generators, examples and resumable dataset building."""

import os
import random

from code_exec.data import build_dataset, build_examples
from code_exec.generators import GENERATORS, TIERS, code_to_text, program_rng
from code_exec.trace_format import parse_state, parse_trace


def test_generators_are_seeded_and_parse():
    for tier, gen in GENERATORS.items():
        a = [gen(program_rng(0, tier, i)) for i in range(20)]
        assert a == [gen(program_rng(0, tier, i)) for i in range(20)]
        assert a != [gen(program_rng(1, tier, i)) for i in range(20)]
        for code in a:
            compile(code, "<gen>", "exec")
    assert "\n" not in GENERATORS["singleline"](random.Random(0))


def test_code_to_text_has_line_tokens():
    assert code_to_text("a = 1\nif a:\n    b = a // 2\n") == (
        "<0> a = 1 <1> if a : <2> <indent> b = a // 2"
    )


def test_examples_have_official_targets(box):
    rows = build_examples("singleline", range(5), box, seed=0)
    assert rows and all(r["target"].startswith("<state>") for r in rows)
    assert all(parse_state(r["target"]) for r in rows)
    rows = build_examples("tutorial", range(5), box, seed=0)
    assert all(r["source"].startswith("<tutorial> <0>") for r in rows)
    assert all(parse_trace(r["target"]) for r in rows)


def test_build_dataset_is_resumable(tmp_path):
    sizes = {tier: 4 for tier in TIERS}
    ds = build_dataset(str(tmp_path), sizes, seed=0, num_proc=2, chunk_size=2)
    files = sorted(os.listdir(tmp_path))
    assert len(files) == 6 and set(ds["tier"]) == set(TIERS)
    assert any(ds["is_mutant"])
    # simulate a killed run: drop one shard and poison another; only the missing one is rebuilt
    os.remove(tmp_path / files[0])
    poisoned = tmp_path / files[1]
    poisoned.write_text(poisoned.read_text())
    stamp = os.path.getmtime(poisoned)
    again = build_dataset(str(tmp_path), sizes, seed=0, num_proc=2, chunk_size=2)
    assert os.path.getmtime(poisoned) == stamp
    assert again.to_list() == ds.to_list()
