import json

import pytest
from llm_annotate import (
    AnnotateConfig,
    Annotator,
    ScriptedBackend,
    TaskError,
    evaluate,
    load_task,
    parse_label,
    prepare_items,
    read_jsonl,
    task_from_dict,
)
from llm_annotate.prompts import build_prompt, get_template

TOPICS = {
    "name": "topics",
    "kind": "multi_label",
    "instruction": "Which topics does the sentence mention?",
    "input_fields": ["text"],
    "labels": {
        "food": {"verbalisers": ["food"], "description": "eating, cooking, dishes"},
        "sport": ["sport"],
        "weather": ["weather"],
    },
    "demonstrations": [{"text": "Rain stopped the match.", "label": "sport, weather"}],
}

INVOICE = {
    "name": "invoice",
    "kind": "extraction",
    "instruction": "Extract the invoice fields.",
    "input_fields": ["text"],
    "schema": {
        "type": "object",
        "properties": {
            "amount": {"type": "number"},
            "currency": {"enum": ["EUR", "USD"]},
            "paid": {"type": "boolean"},
        },
        "required": ["amount", "currency"],
        "additionalProperties": False,
    },
    "demonstrations": [
        {
            "text": "Invoice: 12.50 EUR, settled.",
            "label": {"amount": 12.5, "currency": "EUR", "paid": True},
        },
    ],  # fmt: skip
}


def test_multi_label_parse_prompt_run_and_scores(tmp_path):
    task = task_from_dict(TOPICS)
    assert task.demonstrations[0].label == ["sport", "weather"]
    assert parse_label("So the answer is: weather, food", task, ["So the answer is"]).label == [
        "food",
        "weather",
    ]
    assert parse_label(" none", task).label == []  # the valid empty set
    assert not parse_label(" dunno", task).ok
    prompt = build_prompt(task, {"text": "x"}, "few_shot", get_template(task))
    assert "- food: eating, cooking, dishes" in prompt and "or none" in prompt
    assert "Answer: sport, weather" in prompt
    rows = [
        {"id": "a", "text": "Pizza after the tennis final.", "label": "food,sport"},
        {"id": "b", "text": "A quiet day.", "label": "none"},
        {"id": "c", "text": "Hail on the golf course.", "label": ["weather", "sport"]},
    ]
    answers = {"Pizza": " food, sport", "quiet": " none", "Hail": " weather"}

    def script(p):
        last = p.rsplit("text:", 1)[-1]
        return next(a for k, a in answers.items() if k in last)

    items = prepare_items(rows, task)
    Annotator(task, ScriptedBackend(script), AnnotateConfig(mode="few_shot")).run(
        items, tmp_path / "out.jsonl"
    )
    records = {r["id"]: r for r in read_jsonl(tmp_path / "out.jsonl")}
    assert records["a"]["label"] == ["food", "sport"] and records["b"]["label"] == []
    assert records["c"]["gold"] == ["sport", "weather"]
    report = evaluate(list(records.values()))
    assert report.accuracy == pytest.approx(2 / 3)  # exact set match
    # micro: tp 3 (food, sport, weather), fp 0, fn 1 (sport of c)
    assert report.set_scores == pytest.approx({"precision": 1.0, "recall": 0.75, "f1": 6 / 7})


def test_extraction_validates_against_the_schema(tmp_path):
    task = task_from_dict(INVOICE)
    ok = parse_label('So the answer is: {"amount": 3, "currency": "USD"}', task, ["answer is"])
    assert ok.label == {"amount": 3, "currency": "USD"}
    bad = parse_label('{"amount": "3", "currency": "USD"}', task)
    assert bad.label is None and bad.reason == (
        "invalid against the task's schema: answer.amount is str '3'; allowed: number"
    )
    assert "misses required field(s) ['currency']" in parse_label('{"amount": 1}', task).reason
    assert (
        "unknown field(s) ['tip']"
        in parse_label('{"amount": 1, "currency": "EUR", "tip": 2}', task).reason
    )
    assert parse_label("no idea", task).reason == "no JSON object found in the answer"
    prompt = build_prompt(task, {"text": "x"}, "few_shot", get_template(task))
    assert '"required": ["amount", "currency"]' in prompt
    assert 'Answer: {"amount": 12.5, "currency": "EUR", "paid": true}' in prompt

    def script(p):
        if "A: 7" not in p.rsplit("text:", 1)[-1]:
            return ' {"amount": "lots", "currency": "EUR"}'
        return ' {"amount": 7, "currency": "USD"}'

    gold = '{"amount": 7, "currency": "USD"}'
    rows = [{"id": "a", "text": "Invoice A: 7 dollars", "label": gold}, {"id": "b", "text": "B"}]
    config = AnnotateConfig(mode="few_shot", max_tokens=64, parse_retries=0)
    Annotator(task, ScriptedBackend(script), config).run(
        prepare_items(rows, task), tmp_path / "out.jsonl"
    )
    records = {r["id"]: r for r in read_jsonl(tmp_path / "out.jsonl")}
    assert records["a"]["label"] == {"amount": 7, "currency": "USD"} == records["a"]["gold"]
    assert records["b"]["status"] == "unparseable"
    assert "answer.amount is str 'lots'" in records["b"]["reason"]
    assert evaluate([records["a"]]).accuracy == 1.0


def test_extraction_task_files_and_their_errors(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(
        "name: inv\nkind: extraction\ninstruction: Extract.\ninput_fields: [text]\n"
        "schema: {type: object, properties: {paid: {type: boolean}}, required: [paid]}\n"
        "demonstrations:\n  - {text: done, label: {paid: yes}}\n"
    )
    # extracted objects keep YAML's types (the schema says what they must be)
    assert load_task(path).demonstrations[0].label == {"paid": True}
    path.write_text(path.read_text().replace("paid: yes", "paid: maybe"))
    with pytest.raises(
        TaskError,
        match=r"line 7: .* does not follow the schema: label.paid is str .maybe.; allowed: boolean",
    ):
        load_task(path)
    with pytest.raises(TaskError, match="required: \\['name', 'instruction', 'input_fields', 's"):
        task_from_dict({"name": "x", "kind": "extraction", "instruction": "y",
                        "input_fields": ["t"]})  # fmt: skip
    with pytest.raises(TaskError, match="schema.*properties"):
        task_from_dict({**INVOICE, "schema": {"type": "object"}})
    assert json.loads(json.dumps(task_from_dict(INVOICE).to_dict()))["kind"] == "extraction"


def test_pairwise_asks_both_orders_and_keeps_only_consistent_labels(tmp_path):
    task = task_from_dict({
        "name": "dedupe", "kind": "pairwise", "instruction": "Same product?",
        "input_fields": {"left": "A", "right": "B"}, "labels": ["same", "different"],
    })  # fmt: skip
    rows = [
        {"id": "1", "left": "iPhone 15 128GB", "right": "Apple iPhone 15 (128 GB)"},
        {"id": "2", "left": "red mug", "right": "blue kettle"},
        {"id": "3", "left": "USB cable", "right": "USB-C cable 1m"},
    ]

    def script(prompt):
        a = prompt.rsplit("A: ", 1)[-1].split("\n", 1)[0]
        if "iPhone" in a:
            return " same"
        if "mug" in a or "kettle" in a:
            return " different"
        return " same" if a.startswith("USB cable") else " different"  # position bias

    backend = ScriptedBackend(script)
    summary = Annotator(task, backend, AnnotateConfig(mode="zero_shot")).run(
        prepare_items(rows, task), tmp_path / "out.jsonl"
    )
    assert backend.calls == 6  # two orders per pair
    records = {r["id"]: r for r in read_jsonl(tmp_path / "out.jsonl")}
    assert records["1"]["label"] == "same" and records["1"]["order_consistent"]
    assert records["2"]["label"] == "different"
    assert records["3"]["status"] == "unparseable" and not records["3"]["order_consistent"]
    assert records["3"]["reason"] == (
        "order-dependent answer: 'same' as given, 'different' with the two inputs swapped"
    )
    assert len(records["1"]["raw"]) == 2 and summary.written == 3 and summary.labelled == 2
    with pytest.raises(TaskError, match="needs exactly 2"):
        task_from_dict({"name": "x", "kind": "pairwise", "instruction": "y",
                        "input_fields": ["a"], "labels": ["s", "d"]})  # fmt: skip
