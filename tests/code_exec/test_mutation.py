"""Mutation operators, re-parse filtering, sandbox filtering and dedup."""

import pytest
from code_exec import MutationConfig
from code_exec.mutation import OPERATORS, augment, candidate_mutants, parse

SRC = (
    "n = 4\nt = 0\nfor i in range(n):\n    if i % 2 == 0 and t < 10:\n        t += i * 2\n"
    "    else:\n        continue\nprint(t > 3)\n"
)


def only(op):
    return [m.source for m in candidate_mutants(SRC, MutationConfig(operators=(op,)))]


def test_each_operator_produces_the_expected_edit():
    assert "n = 5\n" in {m.split("t = 0")[0] for m in only("CRP")}
    assert any("i / 2" in m or "i // 2" in m or "i - 2" in m for m in only("AOR"))
    assert any("t -= i * 2" in m for m in only("ASR"))
    assert any("t >= 10" in m for m in only("ROR"))
    assert any(" or t < 10" in m for m in only("LCR"))
    assert any("if not (i % 2 == 0 and t < 10):" in m for m in only("COI"))
    assert any("        break\n" in m for m in only("BCR"))
    assert any("range(n + 1)" in m for m in only("LBR"))
    assert any("print(n > 3)" in m for m in only("SVR"))
    assert any("print" not in m for m in only("SDL"))
    assert any(m.count("print(t > 3)") == 2 for m in only("SDU"))


def test_mutants_parse_are_unique_and_differ_from_the_original():
    mutants = candidate_mutants(SRC)
    sources = [m.source for m in mutants]
    assert SRC not in sources and len(set(sources)) == len(sources)
    for source in sources:
        parse(source)  # raises on an error tree
    assert {m.operator for m in mutants} == set(OPERATORS)


def test_seeded_order():
    a = candidate_mutants(SRC, MutationConfig(seed=1))
    b = candidate_mutants(SRC, MutationConfig(seed=1))
    c = candidate_mutants(SRC, MutationConfig(seed=2))
    assert a == b and a != c


def test_augment_keeps_only_terminating_changed_mutants(box):
    loop = "k = 0\nwhile k < 3:\n    k += 1\nprint(k)\n"  # ASR k -= 1 never terminates
    kept = augment(loop, box, MutationConfig(mutants_per_program=20, max_candidates=40))
    original = box.run(loop)
    texts = set()
    for _, result in kept:
        assert result.status == "ok"
        assert result.to_text() + result.stdout != original.to_text() + original.stdout
        texts.add(result.to_text() + result.stdout)
    assert len(texts) == len(kept) > 0
    assert not any("k -= 1" in m.source for m, _ in kept)


def test_bad_input():
    with pytest.raises(ValueError, match="line 2"):
        parse("x = 1\ny = = 2\n")
    with pytest.raises(ValueError, match="operators"):
        MutationConfig(operators=("XYZ",))
    with pytest.raises(ValueError, match="mutants_per_program"):
        MutationConfig(mutants_per_program=0)
    cfg = MutationConfig(seed=3)
    assert MutationConfig.from_json(cfg.to_json()) == cfg


def test_config_names_every_implemented_operator():
    from code_exec.config import MUTATION_OPERATORS

    assert tuple(OPERATORS) == MUTATION_OPERATORS == MutationConfig().operators
