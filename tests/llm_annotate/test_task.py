import json

import pytest
from llm_annotate import TaskError, load_task, task_from_dict
from llm_annotate.reproduce import bundled_task_path

GOOD = """\
name: sentiment
instruction: Is the review positive or negative?
input_fields: [text]
labels:
  positive: [positive, good]
  negative: [negative, bad]
demonstrations:
  - {text: "Loved it.", label: positive}
  - {text: "Hated it.", label: negative}
"""


def write(tmp_path, text, name="task.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_load_valid_yaml(tmp_path):
    task = load_task(write(tmp_path, GOOD))
    assert task.input_fields == {"text": "text"}
    assert task.labels == {"positive": ["positive", "good"], "negative": ["negative", "bad"]}
    assert [d.label for d in task.demonstrations] == ["positive", "negative"]
    assert task.shown("negative") == "negative"


def test_json_round_trip(tmp_path):
    task = load_task(bundled_task_path())
    path = write(tmp_path, json.dumps(task.to_dict(), indent=2), "task.json")
    again = load_task(path)
    assert again.to_dict() == task.to_dict()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # duplicate label key: PyYAML would silently keep the last one
        (GOOD.replace("  negative: [negative, bad]", "  positive: [negative, bad]"), "line 6"),
        (GOOD.replace("[negative, bad]", "[negative, '']"), "empty"),
        (GOOD.replace("[negative, bad]", "[negative, good]"), "duplicates"),
        (GOOD.replace("label: negative}", "label: neutral}"), "line 9"),
        (GOOD.replace('{text: "Hated it.", ', "{"), "missing input field"),
        (GOOD.replace("instruction:", "instructions:"), "unknown"),
        (GOOD + "  - [oops\n", "line"),
        (GOOD.replace("positive: [positive, good]\n", ""), "at least 2"),
    ],
)
def test_bad_task_is_a_clear_error(tmp_path, text, expected):
    with pytest.raises(TaskError) as info:
        load_task(write(tmp_path, text))
    assert expected in str(info.value)
    assert str(tmp_path) in str(info.value)


def test_demo_label_error_names_line_and_field(tmp_path):
    text = GOOD.replace("label: negative}", "label: neutral}")
    with pytest.raises(TaskError, match=r"line 9: field 'demonstrations\[1\]\.label'.*neutral"):
        load_task(write(tmp_path, text))


def test_malformed_json_names_line(tmp_path):
    with pytest.raises(TaskError, match="line 3"):
        load_task(write(tmp_path, '{\n  "name": "x",\n  "labels": [a, b]\n}', "t.json"))


def test_duplicate_labels_in_list_form():
    with pytest.raises(TaskError, match="duplicates"):
        task_from_dict(
            {"name": "t", "instruction": "i", "input_fields": ["x"], "labels": ["a", "b", "a"]}
        )


def test_missing_file():
    with pytest.raises(TaskError, match="does not exist"):
        load_task("/nonexistent/task.yaml")


def test_missing_input_field_in_item(task):
    with pytest.raises(TaskError, match=r"missing input field\(s\) \['text'\]"):
        task.check_inputs({"review": "x"}, "row 3")


def test_errors_without_a_file_name_the_field():
    data = {
        "name": "t",
        "instruction": "i",
        "input_fields": ["x"],
        "labels": {"a": ["yes"], "b": ["YES"]},
    }
    with pytest.raises(TaskError, match=r"^field 'labels\.b': verbaliser 'YES' duplicates"):
        task_from_dict(data)
    data["labels"] = {"a": ["yes"], "b": []}
    with pytest.raises(TaskError, match=r"field 'labels\.b': has no verbalisers"):
        task_from_dict(data)
