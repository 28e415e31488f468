import pytest
from llm_annotate import AnnotateConfig, Annotator, TransformersBackend, prepare_items, read_jsonl


@pytest.fixture(scope="module")
def tiny():
    from lmlab_common import tiny_causal_lm, train_tokenizer

    texts = [
        "Query: cheap flights\nKeyword: airfare deals\nAnswer: relevant",
        "Query: apple pie\nKeyword: phone cases\nAnswer: irrelevant",
        "So the answer is: relevant. Explanation: the keyword serves the query.",
    ] * 20
    tokenizer = train_tokenizer(texts, kind="bpe", vocab_size=300, wrap=None)
    tokenizer.eos_token = "[SEP]"
    model = tiny_causal_lm(
        "gpt2", vocab_size=len(tokenizer), hidden_size=32, num_layers=2, num_heads=2,
        max_position_embeddings=1024, seed=0,
    )  # fmt: skip
    return model, tokenizer


def test_batched_generation_matches_one_by_one(tiny):
    model, tokenizer = tiny
    prompts = ["Query: a\nAnswer:", "Query: cheap flights to lisbon\nKeyword: x\nAnswer:", "Q"]
    batched = TransformersBackend(model, tokenizer, name="tiny", batch_size=3)
    single = TransformersBackend(model, tokenizer, name="tiny", batch_size=1)
    out_b = batched.generate(prompts, max_tokens=6)
    out_s = single.generate(prompts, max_tokens=6)
    for b, s, prompt in zip(out_b, out_s, prompts, strict=True):
        assert b.ok and b.completions[0].text == s.completions[0].text
        assert b.completions[0].logprob == pytest.approx(s.completions[0].logprob, abs=1e-3)
        assert b.completions[0].logprob <= 0.0
        assert b.usage.prompt_tokens == len(tokenizer(prompt)["input_ids"])
        assert 1 <= b.usage.completion_tokens <= 6


def test_sampling_n_and_seed(tiny):
    model, tokenizer = tiny
    backend = TransformersBackend(model, tokenizer, name="tiny", seed=1)
    (a,) = backend.generate(["Query:"], max_tokens=8, temperature=1.0, n=4)
    (b,) = backend.generate(["Query:"], max_tokens=8, temperature=1.0, n=4)
    assert len(a.completions) == 4
    assert [c.text for c in a.completions] == [c.text for c in b.completions]  # seeded
    assert len({c.text for c in a.completions}) > 1


def test_annotator_mechanics_with_local_model(tiny, task, tmp_path):
    model, tokenizer = tiny
    backend = TransformersBackend(
        model, tokenizer, name="tiny", batch_size=4, max_prompt_tokens=900
    )
    config = AnnotateConfig(mode="cot", explain_max_tokens=8, cot_max_tokens=8)
    annotator = Annotator(task, backend, config, tmp_path / "cache.sqlite")
    items = prepare_items([{"text": f"review {i}"} for i in range(6)], task)
    summary = annotator.run(items, tmp_path / "out.jsonl")
    records = read_jsonl(tmp_path / "out.jsonl")
    assert summary.written == 6 and len(records) == 6
    assert all(d.explanation for d in annotator.demonstrations)
    # a random tiny model rarely says a label; whatever it says is recorded, never a crash
    for r in records:
        assert r["status"] in ("ok", "unparseable")
        assert (r["label"] is None) == (r["status"] == "unparseable")
        assert isinstance(r["raw"], str) and r["usage"]["completion_tokens"] <= 8


def test_model_object_needs_tokenizer(tiny):
    with pytest.raises(ValueError, match="tokenizer=None"):
        TransformersBackend(tiny[0])


def test_prompt_longer_than_context_is_a_failed_generation(tiny):
    model, tokenizer = tiny
    backend = TransformersBackend(model, tokenizer, name="tiny")
    long_prompt = "Query: cheap flights " * 400
    short, too_long = backend.generate(["Query:", long_prompt], max_tokens=4)
    assert short.ok
    assert not too_long.ok and "exceeds the model's context of 1024" in too_long.error
    cut = TransformersBackend(model, tokenizer, name="tiny", max_prompt_tokens=1000)
    (gen,) = cut.generate([long_prompt], max_tokens=4)
    assert gen.ok and gen.usage.prompt_tokens == 1000


def test_stop_strings_end_generation(tiny):
    model, tokenizer = tiny
    backend = TransformersBackend(model, tokenizer, name="tiny")
    (free,) = backend.generate(["Query:"], max_tokens=12)
    text = free.completions[0].text
    assert len(text) > 2
    stop = text[1:3]  # a string the model is known to produce early
    (stopped,) = backend.generate(["Query:"], max_tokens=12, stop=[stop])
    assert stop not in stopped.completions[0].text
    assert stopped.completions[0].finish_reason == "stop"
    assert stopped.usage.completion_tokens < free.usage.completion_tokens
