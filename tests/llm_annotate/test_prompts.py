import pytest
from llm_annotate import TEMPLATES, Demonstration, build_prompt, explain_prompt, get_template


def with_explanations(task):
    return [
        Demonstration(d.inputs, d.label, f"reason number {i}")
        for i, d in enumerate(task.demonstrations)
    ]


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_cot_demo_carries_its_explanation(task, name):
    template = get_template(task, name)
    demos = with_explanations(task)
    prompt = build_prompt(task, {"text": "Meh."}, "cot", template, demos)
    blocks = prompt.split(template.separator)
    assert len(blocks) == 1 + len(demos) + 1  # header, demos, query
    for demo, block in zip(demos, blocks[1:-1], strict=True):
        assert demo.inputs["text"] in block
        assert demo.explanation in block
        assert task.shown(demo.label) in block
        # explanation comes before the label, as in explain-then-annotate
        assert block.index(demo.explanation) < block.rindex(task.shown(demo.label))
    assert "Meh." in blocks[-1]
    assert "reason number" not in blocks[-1]


def test_cot_refuses_demo_without_explanation(task):
    demos = with_explanations(task)
    demos[1].explanation = "  "
    with pytest.raises(ValueError, match="demonstration 1 has no explanation"):
        build_prompt(task, {"text": "x"}, "cot", get_template(task), demos)


def test_modes_differ(task):
    template = get_template(task)
    demos = with_explanations(task)
    zero = build_prompt(task, {"text": "x"}, "zero_shot", template, demos)
    few = build_prompt(task, {"text": "x"}, "few_shot", template, demos)
    cot = build_prompt(task, {"text": "x"}, "cot", template, demos)
    assert "I loved every minute." not in zero
    assert "I loved every minute." in few and "reason number 0" not in few
    assert "reason number 0" in cot
    assert few.endswith("Answer:") and cot.endswith("Explanation:")


def test_explain_prompt_states_gold_label(task):
    demo = task.demonstrations[1]
    prompt = explain_prompt(task, demo, get_template(task))
    assert "A waste of money." in prompt
    assert "why the answer is negative" in prompt


def test_bad_mode_and_template(task):
    with pytest.raises(ValueError, match="mode='chain'"):
        build_prompt(task, {"text": "x"}, "chain", get_template(task))
    with pytest.raises(ValueError, match="template='fancy'"):
        get_template(task, "fancy")
