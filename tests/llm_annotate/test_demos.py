import torch
from llm_annotate import (
    AnnotateConfig,
    Annotator,
    DemoSelector,
    ScriptedBackend,
    prepare_items,
    task_from_dict,
)

# a toy embedder: one axis per keyword, so similarity is predictable
AXES = ["apple", "pear", "goal", "match", "rain"]


def toy_embed(texts):
    return torch.tensor([[float(a in t) + 1e-3 for a in AXES] for t in texts])


TASK = {
    "name": "topic",
    "instruction": "Topic?",
    "input_fields": ["text"],
    "labels": ["food", "sport", "weather"],
    "demonstrations": [
        {"text": "apple", "label": "food"},
        {"text": "apple pear", "label": "food"},
        {"text": "goal", "label": "sport"},
        {"text": "goal match", "label": "sport"},
        {"text": "rain", "label": "weather"},
    ],
}


def test_nearest_last_and_label_coverage():
    task = task_from_dict(TASK)
    items = prepare_items([{"text": "apple pear"}, {"text": "goal match"}], task)
    plain = DemoSelector(task, k=2, embedder=toy_embed).select(items)
    assert plain == [[0, 1], [2, 3]]  # the two most similar, the nearest one last
    covered = DemoSelector(task, k=3, cover_labels=True, embedder=toy_embed).select(items)
    labels = [[task.demonstrations[j].label for j in picks] for picks in covered]
    assert all(sorted(ls) == ["food", "sport", "weather"] for ls in labels)
    assert covered[0][-1] == 1 and covered[1][-1] == 3


def test_explanations_only_for_chosen_demonstrations_once_each(tmp_path):
    task = task_from_dict(TASK)
    explained = []

    def script(prompt):
        if "Briefly explain why" in prompt:
            explained.append(prompt)
            return "Because of the word."
        return "Words.\nSo the answer is: food"

    selector = DemoSelector(task, k=1, embedder=toy_embed)
    backend = ScriptedBackend(script)
    cache = tmp_path / "cache.sqlite"
    annotator = Annotator(task, backend, AnnotateConfig(mode="cot"), cache, selector=selector)
    items = prepare_items([{"text": "apple pear"}, {"text": "pear apple"}, {"text": "goal"}], task)
    annotator.run(items, tmp_path / "out.jsonl")
    assert len(explained) == 2  # demos 1 ("apple pear") and 2 ("goal") only, once each
    prompt = annotator.prompt_for(items[2])
    assert "text: goal\nExplanation: Because of the word." in prompt and "apple" not in prompt
    # a second annotator on the same cache explains nothing again
    again = Annotator(task, backend, AnnotateConfig(mode="cot"), cache, selector=selector)
    again.run(items, tmp_path / "out2.jsonl")
    assert len(explained) == 2
