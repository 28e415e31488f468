import random
from collections import Counter

from bidir_lm import ToyPrograms, apply_fim, check_program, fim_prompt, fim_transform
from datasets import Dataset

IDS = {"prefix": 101, "suffix": 102, "middle": 103, "end": 104}


def test_fim_transform_layouts():
    doc = list(range(1, 11))
    seen = set()
    for seed in range(200):
        out = fim_transform(doc, IDS, random.Random(seed), rate=1.0, spm_rate=0.5)
        assert Counter(t for t in out if t < 100) == Counter(doc)
        assert out[0] == 101 and out[-1] == 104
        body = out[1:-1]
        if body[0] == 102:  # SPM: <suf> suffix <mid> prefix middle
            seen.add("spm")
            k = body.index(103)
            suffix, rest = body[1:k], body[k + 1 :]
            assert rest + suffix == doc
        else:  # PSM: prefix <suf> suffix <mid> middle
            seen.add("psm")
            a, b = body.index(102), body.index(103)
            assert body[:a] + body[b + 1 :] + body[a + 1 : b] == doc
    assert seen == {"psm", "spm"}
    assert fim_transform(doc, IDS, random.Random(0), rate=0.0) == doc


def test_apply_fim_rate_and_determinism():
    data = Dataset.from_dict({"input_ids": [list(range(1, 12))] * 400})
    a = apply_fim(data, IDS, rate=0.5, seed=3)["input_ids"]
    b = apply_fim(data, IDS, rate=0.5, seed=3)["input_ids"]
    assert a == b
    share = sum(row[0] == 101 for row in a) / len(a)
    assert 0.4 < share < 0.6


def test_fim_prompt():
    assert fim_prompt([1, 2], [3], IDS) == [101, 1, 2, 102, 3, 103]
    assert fim_prompt([1, 2], [3], IDS, "spm") == [101, 102, 3, 103, 1, 2]


def test_toy_programs_and_checker():
    task = ToyPrograms()
    progs = task.programs(300, seed=0)
    assert progs == task.programs(300, seed=0)
    assert all(check_program(p.words) for p in progs)
    for p in progs[:50]:
        declared, target = p.prefix[-1], p.suffix[0]
        # the hole's first word follows the prefix, its last word the suffix
        assert p.middle == [f"new_{declared}", "(", ")", f"cast_{target}"]
    p = next(q for q in progs if q.prefix[-1] != q.suffix[0])
    wrong_cast = p.middle[:-1] + [f"cast_{p.prefix[-1]}"]  # what a prefix-only guess gives
    assert not check_program(p.prefix + wrong_cast + p.suffix)
    wrong_new = [f"new_{p.suffix[0]}"] + p.middle[1:]
    assert not check_program(p.prefix + wrong_new + p.suffix)
    assert not check_program(p.prefix + p.middle[:-1] + p.suffix)
    assert not check_program(["a", "=", "1"])  # unterminated
    assert not check_program(["print", "z", ";"])  # undefined name
    targets = {q.suffix[0] for q in progs}
    assert len(targets) == 8  # a left-to-right guess of the cast is right ~1/8 of the time
