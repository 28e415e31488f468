import math

import pytest
from llm_annotate import (
    AnnotateConfig,
    Annotator,
    Completion,
    ScriptedBackend,
    evaluate,
    parse_label,
    prepare_items,
    read_jsonl,
)
from llm_annotate.cli import main
from llm_annotate.confidence import accuracy_at_coverage, auroc, label_confidence
from llm_annotate.export import add_columns, add_dataset_columns, write_table

ROWS = [
    {"id": "a", "text": "great stuff", "label": "positive"},
    {"id": "b", "text": "awful service", "label": "negative"},
    {"id": "c", "text": "bad fit", "label": "negative"},
    {"id": "d", "text": "nice colour", "label": "negative"},
]


def test_auroc_and_accuracy_at_coverage_by_hand():
    assert auroc([0.9, 0.8, 0.3, 0.1], [True, True, False, False]) == 1.0
    assert auroc([0.1, 0.2, 0.8, 0.9], [True, True, False, False]) == 0.0
    assert auroc([0.5, 0.5, 0.5, 0.5], [True, False, True, False]) == 0.5  # ties count half
    # one right (0.6) below one wrong (0.7): 3 of 4 (right, wrong) pairs ordered well
    assert auroc([0.9, 0.6, 0.7, 0.1], [True, True, False, False]) == pytest.approx(0.75)
    assert auroc([0.2, 0.3], [True, True]) is None
    acc = accuracy_at_coverage([0.9, 0.8, 0.3, 0.1], [True, True, False, True], (0.5, 1.0))
    assert acc == {"0.5": 1.0, "1": 0.75}


def test_label_confidence_uses_only_the_label_tokens(task):
    text = "The review is upbeat.\nSo the answer is: positive"
    tokens = [("The", -0.1), (" review", -2.0), (" is", -0.1), (" upbeat.", -3.0),
              ("\nSo", -0.1), (" the", -0.1), (" answer", -0.1), (" is:", -0.1),
              (" pos", math.log(0.5)), ("itive", math.log(0.8))]  # fmt: skip
    parsed = parse_label(text, task, ["So the answer is"])
    assert parsed.label == "positive" and text[slice(*parsed.span)] == "positive"
    assert label_confidence(Completion(text, tokens=tokens), parsed.span) == pytest.approx(0.4)
    assert label_confidence(Completion(text), parsed.span) is None
    plain = parse_label("  Negative.", task)
    assert "  Negative."[slice(*plain.span)] == "Negative"


def test_logprob_confidence_is_recorded_evaluated_and_routed_to_review(task, tmp_path):
    def script(prompt):
        last = prompt.rsplit("Review:", 1)[-1]
        label = "negative" if "bad" in last or "awful" in last else "positive"
        p = 0.3 if "nice" in last else 0.95  # the wrong answer is the unsure one
        return Completion(f" {label}", "stop", tokens=[(f" {label}", math.log(p))])

    items = prepare_items(ROWS, task)
    out = tmp_path / "out.jsonl"
    annotator = Annotator(task, ScriptedBackend(script), AnnotateConfig(mode="zero_shot"))
    summary = annotator.run(items, out, min_confidence=0.5)
    records = {r["id"]: r for r in read_jsonl(out)}
    assert records["d"]["confidence"] == pytest.approx(0.3)
    assert {r["confidence_source"] for r in records.values()} == {"logprob"}
    review = read_jsonl(f"{out}.review.jsonl")
    assert [r["id"] for r in review] == ["d"] and summary.review == 1
    report = evaluate(list(records.values()))
    assert report.accuracy == 0.75
    assert report.calibration["auroc"] == 1.0  # the one error has the lowest confidence
    assert report.calibration["accuracy_at_coverage"]["0.5"] == 1.0


def test_cli_logprobs_min_confidence_and_export(tmp_path, capsys):
    from llm_annotate.fake_server import FakeOpenAIServer

    (tmp_path / "task.yaml").write_text(
        "name: s\ninstruction: Sentiment?\ninput_fields: {text: Review}\n"
        "labels: [positive, negative]\n"
    )
    rows = [{"text": t, "label": g} for t, g, _ in
            [("good", "positive", 0), ("bad", "negative", 0), ("ok", "negative", 0)]]  # fmt: skip
    data = tmp_path / "data.csv"
    data.write_text("text,label\n" + "".join(f"{r['text']},{r['label']}\n" for r in rows))

    def respond(prompt):
        return " negative" if "Review: bad" in prompt else " positive"

    def confidence(prompt):
        return 0.4 if "Review: ok" in prompt else 0.9

    out = tmp_path / "out.jsonl"
    with FakeOpenAIServer(respond, confidence=confidence) as server:
        code = main(["run", "--task", str(tmp_path / "task.yaml"), "--data", str(data),
                     "--out", str(out), "--mode", "zero_shot", "--base-url", server.base_url,
                     "--model", "fake", "--logprobs", "--min-confidence", "0.5"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    review = read_jsonl(f"{out}.review.jsonl")
    assert [r["id"] for r in review] == ["2"] and review[0]["confidence"] == pytest.approx(0.4)
    labelled = tmp_path / "labelled.csv"
    assert main(["export", "--task", str(tmp_path / "task.yaml"), "--data", str(data),
                 "--pred", str(out), "--out", str(labelled)]) == 0  # fmt: skip
    lines = labelled.read_text().splitlines()
    assert lines[0] == "text,label,llm_label,llm_confidence,llm_status,llm_explanation"
    assert lines[2].startswith("bad,negative,negative,0.9")
    assert lines[3].startswith("ok,negative,positive,0.4")


def test_write_back_jsonl_and_dataset(task, tmp_path):
    from datasets import Dataset

    records = [{"id": "a", "label": "positive", "confidence": 0.9, "status": "ok"}]
    rows = [dict(r) for r in ROWS[:2]]
    labelled = add_columns(rows, records, task, fields=("label", "confidence"))
    assert labelled[0]["llm_label"] == "positive" and labelled[1]["llm_label"] is None
    assert "llm_label" not in rows[0]  # the input is not modified
    write_table(labelled, tmp_path / "out.jsonl")
    back = read_jsonl(tmp_path / "out.jsonl")
    assert back[0] == {**ROWS[0], "llm_label": "positive", "llm_confidence": 0.9}
    ds = add_dataset_columns(Dataset.from_list(rows), records, task, fields=("label",))
    assert ds["llm_label"] == ["positive", None]
    write_table(labelled, f"{tmp_path}/saved/")
    assert Dataset.load_from_disk(tmp_path / "saved")["llm_confidence"] == [0.9, None]
    with pytest.raises(ValueError, match="already exist"):
        add_columns(labelled, records, task, fields=("label",))
    with pytest.raises(ValueError, match="allowed: a .jsonl or .csv"):
        write_table(labelled, tmp_path / "out.parquet")


def test_verbalised_confidence_when_asked(task, tmp_path):
    from llm_annotate.confidence import stated_confidence

    assert stated_confidence("positive (confidence: 80%)") == pytest.approx(0.8)
    assert stated_confidence("Confidence = 0.35") == pytest.approx(0.35)
    assert stated_confidence("positive") is None and stated_confidence("confidence: 250%") is None

    def script(prompt):
        assert "(confidence: NN%)" in prompt  # the prompt asks for it
        sure = "great" in prompt.rsplit("Review:", 1)[-1]
        return f" positive (confidence: {90 if sure else 40}%)"

    config = AnnotateConfig(mode="zero_shot", ask_confidence=True)
    Annotator(task, ScriptedBackend(script), config).run(
        prepare_items(ROWS[:2], task), tmp_path / "out.jsonl"
    )
    records = {r["id"]: r for r in read_jsonl(tmp_path / "out.jsonl")}
    assert records["a"]["label"] == "positive" and records["a"]["confidence"] == 0.9
    assert records["b"]["confidence"] == 0.4
    assert records["b"]["confidence_source"] == "verbalised"
