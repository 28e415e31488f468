import pytest
from llm_annotate import parse_label, task_from_dict


@pytest.fixture
def rel():
    return task_from_dict(
        {
            "name": "rel",
            "instruction": "relevant?",
            "input_fields": ["q"],
            "labels": {"relevant": ["relevant"], "irrelevant": ["irrelevant", "not relevant"]},
        }
    )


@pytest.mark.parametrize(
    ("text", "label"),
    [
        (" relevant", "relevant"),
        ("Irrelevant.", "irrelevant"),
        ("**relevant**", "relevant"),
        ("not relevant", "irrelevant"),  # the longest verbaliser wins
        ("It mentions relevant terms but no.\nSo the answer is: irrelevant", "irrelevant"),
        ("The keyword is relevant here... the answer is not relevant", "irrelevant"),
        ("Answer: RELEVANT because it matches", "relevant"),
        ("I think this one is clearly relevant to the user.", "relevant"),
    ],
)
def test_labels_extracted(rel, text, label):
    assert parse_label(text, rel, cues=["So the answer is"]).label == label


@pytest.mark.parametrize(
    ("text", "finish", "reason"),
    [
        ("", "stop", "empty"),
        ("   \n", "stop", "empty"),
        (None, None, "empty"),
        ("Let me think about whether the key", "length", "truncated"),
        ("could be relevant or irrelevant", "stop", "ambiguous"),
        ("I cannot tell.", "stop", "no label"),
    ],
)
def test_unparseable_has_reason(rel, text, finish, reason):
    result = parse_label(text, rel, finish_reason=finish)
    assert result.label is None and not result.ok
    assert reason in result.reason


def test_explanation_is_text_before_cue(rel):
    result = parse_label("Because X.\nSo the answer is: relevant", rel, ["So the answer is"])
    assert result.explanation == "Because X."
    assert result.label == "relevant"
