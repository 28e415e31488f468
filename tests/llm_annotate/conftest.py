"""Shared fixtures: a small task, a gold-aware responder and the bundled QK data."""

from __future__ import annotations

import re

import pytest
from llm_annotate import load_items, prepare_items, task_from_dict
from llm_annotate.reproduce import bundled_data_path, bundled_task

SENTIMENT = {
    "name": "sentiment",
    "instruction": "Is the review positive or negative?",
    "input_fields": {"text": "Review"},
    "labels": {"positive": ["positive", "good"], "negative": ["negative", "bad"]},
    "demonstrations": [
        {"text": "I loved every minute.", "label": "positive"},
        {"text": "A waste of money.", "label": "negative"},
        {"text": "Works as promised, would buy again.", "label": "positive"},
    ],
}


@pytest.fixture
def task():
    return task_from_dict(SENTIMENT)


@pytest.fixture
def qk_task():
    return bundled_task()


@pytest.fixture
def qk_items(qk_task):
    return prepare_items(load_items(bundled_data_path()), qk_task)


def make_oracle(items, label_field="label"):
    """An OpenAI-style responder that knows the gold labels of the bundled QK items.

    Explain prompts get an explanation; CoT prompts an explanation then the cue and the gold
    label; plain prompts the bare label. Unknown items are answered "relevant"."""
    gold = {(i["query"], i["keyword"]): i[label_field] for i in items}

    def respond(prompt: str) -> str:
        pairs = re.findall(r"Query\]? ?:? ?(.*)\n\[?Keyword\]? ?:? ?(.*)", prompt)
        query, keyword = pairs[-1] if pairs else ("", "")
        query = query.lstrip("] :")
        keyword = keyword.lstrip("] :")
        label = gold.get((query.strip(), keyword.strip()), "relevant")
        tail = prompt.rstrip().rsplit("\n", 1)[-1]
        if "explain" in tail.lower() or tail in ("Explanation:", "Reason:", "Rationale:"):
            if re.search(r"(Briefly explain|give the reason|Explain briefly)", prompt[-300:]):
                return f"The keyword {'matches' if label == 'relevant' else 'misses'} the intent."
            return f"Comparing the query with the keyword.\nSo the answer is: {label}"
        return " " + label

    return respond


@pytest.fixture
def oracle(qk_items):
    return make_oracle(qk_items)
