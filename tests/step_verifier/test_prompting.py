import pytest
from lmlab_common import tiny_causal_lm
from step_verifier import build_prompts, sample_paths
from step_verifier.synthetic import SyntheticTask


@pytest.fixture
def generator(tokenizer):
    return tiny_causal_lm("gpt2", vocab_size=len(tokenizer), hidden_size=32, num_layers=1,
                          num_heads=2, max_position_embeddings=256, seed=0)  # fmt: skip


def test_build_prompts_is_seeded_and_diverse(problems):
    a = build_prompts(problems, num_prompts=3, exemplars_per_prompt=2, seed=1)
    assert a == build_prompts(problems, num_prompts=3, exemplars_per_prompt=2, seed=1)
    assert len(a) == 3 and len(set(a)) > 1
    assert all(p.count("Question:\n") == 2 for p in a)
    with pytest.raises(ValueError, match="exemplars_per_prompt"):
        build_prompts(problems, exemplars_per_prompt=len(problems) + 1)
    unsolved = [type(problems[0])("q", "1")]
    with pytest.raises(ValueError, match="gold_solution"):
        build_prompts(unsolved, num_prompts=1, exemplars_per_prompt=1)


def test_sample_paths_shapes_seed_and_prompt_index(generator, tokenizer, problems):
    qs = [p.question for p in problems[:3]]
    prompts = ["", build_prompts(problems, 1, 1, seed=0)[0]]
    out = sample_paths(generator, tokenizer, qs, prompts, paths_per_prompt=4, temperature=1.0,
                       max_new_tokens=12, batch_size=4, seed=0)  # fmt: skip
    assert [len(row) for row in out] == [8, 8, 8]
    assert [x.prompt_index for x in out[0]] == [0] * 4 + [1] * 4
    again = sample_paths(generator, tokenizer, qs, prompts, paths_per_prompt=4, temperature=1.0,
                         max_new_tokens=12, batch_size=4, seed=0)  # fmt: skip
    assert again == out  # seeded
    other = sample_paths(generator, tokenizer, qs, prompts, paths_per_prompt=4, temperature=1.0,
                         max_new_tokens=12, batch_size=4, seed=1)  # fmt: skip
    assert other != out
    greedy = sample_paths(generator, tokenizer, qs, [""], 1, 0.0, 12, 3)
    assert greedy == sample_paths(generator, tokenizer, qs, [""], 1, 0.0, 12, 1)
    assert sample_paths(generator, tokenizer, [], [""], 2) == []
    with pytest.raises(ValueError, match="paths_per_prompt"):
        sample_paths(generator, tokenizer, qs, [""], 3, 0.0)
    with pytest.raises(ValueError, match="prompts"):
        sample_paths(generator, tokenizer, qs, [], 3)


def test_synthetic_task_is_seeded_and_follows_the_mixture():
    from collections import Counter

    from step_verifier.synthetic import strategy_of

    a = SyntheticTask(seed=5).problems(300, paths=1)
    b = SyntheticTask(seed=5).problems(300, paths=1)
    assert [p.to_dict() for p in a] == [p.to_dict() for p in b]
    shares = Counter(strategy_of(p.paths[0]) for p in a)
    assert 0.25 < shares["guess"] / 300 < 0.45
    assert all(p.gold_solution.answer == p.gold_answer for p in a)
    shortcut_right = [p.paths[0].answer == p.gold_answer for p in a if shares and
                      strategy_of(p.paths[0]) == "guess"]  # fmt: skip
    assert sum(shortcut_right) / len(shortcut_right) < 0.3
