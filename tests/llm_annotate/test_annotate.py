import json

import pytest
from llm_annotate import (
    AnnotateConfig,
    Annotator,
    ScriptedBackend,
    load_items,
    parse_shard,
    prepare_items,
    read_jsonl,
)

EXPLAIN = r"Briefly explain why"


def sentiment_script(prompt):
    if EXPLAIN in prompt:
        return "It says so."
    last = prompt.rsplit("Review:", 1)[-1]
    label = "negative" if "bad" in last or "awful" in last else "positive"
    if prompt.endswith("Explanation:"):
        return f"The review sounds {label}.\nSo the answer is: {label}"
    return f" {label}"


ROWS = [
    {"id": "a", "text": "great stuff", "label": "positive"},
    {"id": "b", "text": "awful service", "label": "negative"},
    {"id": "c", "text": "bad fit", "label": "negative"},
    {"id": "d", "text": "nice colour", "label": "negative"},
]


def test_explain_once_cached_and_saved(task, tmp_path):
    backend = ScriptedBackend(sentiment_script)
    cache = tmp_path / "cache.sqlite"
    annotator = Annotator(task, backend, AnnotateConfig(mode="cot"), cache)
    demos = annotator.explain()
    assert backend.calls == len(task.demonstrations)
    assert all(d.explanation == "It says so." for d in demos)
    annotator.save_explanations(tmp_path / "exp.json")
    saved = json.loads((tmp_path / "exp.json").read_text())
    assert [d["label"] for d in saved["demonstrations"]] == [d.label for d in demos]
    assert all("why the answer is" in d["prompt"] for d in saved["demonstrations"])
    # a second annotator with the same cache makes no call at all
    again = Annotator(task, backend, AnnotateConfig(mode="cot"), cache)
    again.explain()
    assert backend.calls == len(task.demonstrations)
    # loading the saved file restores them without any call either
    third = Annotator(task, ScriptedBackend({}), AnnotateConfig(mode="cot"))
    third.load_explanations(tmp_path / "exp.json")
    assert [d.explanation for d in third.demonstrations] == ["It says so."] * 3


def test_empty_explanation_is_an_error(task):
    backend = ScriptedBackend(lambda p: "   " if EXPLAIN in p else " positive")
    annotator = Annotator(task, backend, AnnotateConfig(mode="cot"))
    with pytest.raises(RuntimeError, match="demonstration 0 .* failed 3 times: .*empty"):
        annotator.explain()


@pytest.mark.parametrize("mode", ["zero_shot", "few_shot", "cot"])
def test_run_then_rerun_makes_zero_calls(task, tmp_path, mode):
    items = prepare_items(ROWS, task)
    backend = ScriptedBackend(sentiment_script)
    cache = tmp_path / "cache.sqlite"
    annotator = Annotator(task, backend, AnnotateConfig(mode=mode), cache)
    summary = annotator.run(items, tmp_path / "out.jsonl")
    records = read_jsonl(tmp_path / "out.jsonl")
    assert [r["label"] for r in records] == ["positive", "negative", "negative", "positive"]
    assert summary.labelled == 4 and summary.calls == 4
    if mode == "cot":
        assert all(r["explanation"].startswith("The review sounds") for r in records)
    calls = backend.calls
    # a fresh output file: every answer comes from the cache, zero backend calls
    rerun = Annotator(task, backend, AnnotateConfig(mode=mode), cache)
    summary = rerun.run(items, tmp_path / "out2.jsonl")
    assert backend.calls == calls
    assert summary.calls == 0 and summary.cache_hits == 4
    assert [r["label"] for r in read_jsonl(tmp_path / "out2.jsonl")] == [
        r["label"] for r in records
    ]
    assert all(r["cached"] for r in read_jsonl(tmp_path / "out2.jsonl"))


def test_resume_skips_recorded_items_and_repairs_torn_line(task, tmp_path):
    items = prepare_items(ROWS, task)
    out = tmp_path / "out.jsonl"
    first = Annotator(task, ScriptedBackend(sentiment_script), AnnotateConfig(mode="few_shot"))
    first.run(items[:2], out)
    with open(out, "a") as fh:  # a kill in the middle of a write
        fh.write('{"id": "c", "label": "neg')
    backend = ScriptedBackend(sentiment_script)
    summary = Annotator(task, backend, AnnotateConfig(mode="few_shot")).run(items, out)
    assert summary.skipped == 2 and summary.written == 2
    assert backend.calls == 2
    assert [r["id"] for r in read_jsonl(out)] == ["a", "b", "c", "d"]


def test_unparseable_and_failed_are_recorded_not_raised(task, tmp_path):
    items = prepare_items(ROWS, task)
    answers = {"great": " I am not sure", "awful": None}

    def script(prompt):
        for key, answer in answers.items():
            if key in prompt.rsplit("Review:", 1)[-1]:
                return answer
        return " negative"

    first = ScriptedBackend(script)
    Annotator(task, first, AnnotateConfig(mode="zero_shot")).run(items, tmp_path / "out.jsonl")
    records = {r["id"]: r for r in read_jsonl(tmp_path / "out.jsonl")}
    assert records["a"]["status"] == "unparseable"
    assert records["a"]["raw"] == " I am not sure" and records["a"]["reason"]
    assert records["b"]["status"] == "failed" and "no answer" in records["b"]["reason"]
    assert records["c"]["label"] == "negative"
    # the answer without a label was asked 1 + parse_retries (2) times, the others once
    assert first.calls == 4 + 2
    # failed and unparseable items run again only when asked, and then really call again
    # (an unparseable answer is never cached)
    backend = ScriptedBackend(lambda p: " positive")
    Annotator(task, backend, AnnotateConfig(mode="zero_shot")).run(items, tmp_path / "out.jsonl")
    assert backend.calls == 0
    Annotator(task, backend, AnnotateConfig(mode="zero_shot")).run(
        items, tmp_path / "out.jsonl", retry_failed=True
    )
    assert backend.calls == 2
    records = read_jsonl(tmp_path / "out.jsonl")
    assert sorted(r["id"] for r in records) == ["a", "b", "c", "d"]
    assert {r["id"]: r["label"] for r in records}["a"] == "positive"
    assert {r["id"]: r["label"] for r in records}["b"] == "positive"


def test_self_consistency_majority_vote(task, tmp_path):
    def script(prompt):
        if EXPLAIN in prompt:
            return "Because."
        return ["So the answer is: bad", "So the answer is: good", "So the answer is: bad", "?"]

    backend = ScriptedBackend(script)
    config = AnnotateConfig(mode="self_consistency", k=4)
    annotator = Annotator(task, backend, config)
    annotator.run(prepare_items(ROWS[:1], task), tmp_path / "out.jsonl")
    (record,) = read_jsonl(tmp_path / "out.jsonl")
    assert record["label"] == "negative"
    assert record["votes"] == {"negative": 2, "positive": 1}
    assert record["confidence"] == pytest.approx(0.5)
    assert len(record["raw"]) == 4


def test_identical_prompts_are_paid_once(task, tmp_path):
    rows = [{"id": str(i), "text": "same text"} for i in range(5)]
    backend = ScriptedBackend(sentiment_script)
    summary = Annotator(task, backend, AnnotateConfig(mode="zero_shot")).run(
        prepare_items(rows, task), tmp_path / "out.jsonl"
    )
    assert backend.calls == 1 and summary.written == 5


def test_dry_run_makes_no_call(task, tmp_path):
    backend = ScriptedBackend(sentiment_script)
    annotator = Annotator(task, backend, AnnotateConfig(mode="cot"), tmp_path / "c.sqlite")
    plan = annotator.plan(prepare_items(ROWS, task))
    assert backend.calls == 0
    assert plan.calls == len(task.demonstrations) + len(ROWS)
    assert plan.prompt_tokens > 0 and "great stuff" not in plan.example_prompt.split("\n\n")[1]
    assert plan.max_completion_tokens == 3 * 128 + 4 * 256
    assert plan.cost(1.0, 2.0) == pytest.approx(
        (plan.prompt_tokens + 2 * (3 * 128 + 4 * 256)) / 1e6
    )
    annotator.run(prepare_items(ROWS, task), tmp_path / "out.jsonl")
    assert annotator.plan(prepare_items(ROWS, task)).calls == 0  # all cached now


def test_shards_partition_the_data(task):
    rows = [{"text": f"t{i}"} for i in range(10)]
    shards = [prepare_items(rows, task, parse_shard(f"{i}/3")) for i in range(3)]
    ids = [item["__id"] for shard in shards for item in shard]
    assert ids == [str(i) for i in range(10)]
    assert [len(s) for s in shards] == [4, 3, 3]
    for bad in ("3/3", "1", "a/b", "0/0"):
        with pytest.raises(ValueError, match="shard="):
            parse_shard(bad)


def test_bad_inputs(task):
    with pytest.raises(ValueError, match=r"missing input field\(s\) \['text'\]"):
        prepare_items([{"text": "x"}, {"body": "y"}], task)
    with pytest.raises(ValueError, match="id 'x' is duplicated"):
        prepare_items([{"id": "x", "text": "a"}, {"id": "x", "text": "b"}], task)
    with pytest.raises(ValueError, match="mode='chain'"):
        AnnotateConfig(mode="chain")
    with pytest.raises(ValueError, match="k=0"):
        AnnotateConfig(k=0)


def test_empty_explanation_is_asked_again(task, tmp_path):
    answers = iter(["", "A reason."] + ["Another."] * 10)
    backend = ScriptedBackend(lambda p: next(answers) if EXPLAIN in p else " positive")
    annotator = Annotator(task, backend, AnnotateConfig(mode="cot"), tmp_path / "c.sqlite")
    demos = annotator.explain()
    assert all(d.explanation for d in demos)
    assert backend.calls == len(demos) + 1


def test_datasets_input_and_shards_match_dataset_shard(task):
    from datasets import Dataset

    rows = [{"id": f"x{i}", "text": f"t{i}", "label": "positive"} for i in range(11)]
    ds = Dataset.from_list(rows)
    for i in range(3):
        ours = [r["__id"] for r in prepare_items(load_items(ds), task, (i, 3))]
        theirs = ds.shard(num_shards=3, index=i, contiguous=True)["id"]
        assert ours == theirs


def test_resume_refuses_an_output_of_another_run(task, tmp_path):
    items = prepare_items(ROWS, task)
    out = tmp_path / "out.jsonl"
    Annotator(task, ScriptedBackend(sentiment_script), AnnotateConfig(mode="zero_shot")).run(
        items[:2], out
    )
    annotator = Annotator(task, ScriptedBackend(sentiment_script), AnnotateConfig(mode="few_shot"))
    with pytest.raises(ValueError, match="another run.*zero_shot.*use a new output file"):
        annotator.run(items, out)
    assert len(read_jsonl(out)) == 2


def test_explanation_keeps_the_reason_not_a_restated_answer(task):
    backend = ScriptedBackend(lambda p: "Strong praise.\nSo the answer is: positive")
    annotator = Annotator(task, backend, AnnotateConfig(mode="cot"))
    demos = annotator.explain()
    assert demos[0].explanation == "Strong praise."
