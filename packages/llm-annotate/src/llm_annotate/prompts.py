"""Prompt templates and prompt assembly for the four modes.

AnnoLLM (He et al., 2023), formalised in the research note §2.2::

    e_i  = LLM(d + T_exp(x_i, y_i))                          # explain the gold label (once)
    y(x) = parse(LLM(d + sum_i T_demo(x_i, e_i, y_i) + T_query(x)))

The paper's prompt figures were not readable, so the templates below are our own wording of
that shape. Three paraphrases ship for the template-stability comparison.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from .task import Demonstration, TaskSpec

MODES = ("zero_shot", "few_shot", "cot", "self_consistency")
ASK_CONFIDENCE = (
    "\nAfter the answer, on the same line, say how sure you are that it is right as "
    "(confidence: NN%)."
)


@dataclass(frozen=True)
class PromptTemplate:
    """The parts of every prompt. Placeholders: {instruction} {labels} {inputs} {label}
    {explanation}; ``field_line`` gets {name} {value}."""

    name: str = "default"
    header: str = "{instruction}\nPossible answers: {labels}."
    field_line: str = "{name}: {value}"
    explain: str = (
        "{inputs}\nAnswer: {label}\n"
        "Briefly explain why the answer is {label}, without repeating the question.\nExplanation:"
    )
    demo_plain: str = "{inputs}\nAnswer: {label}"
    demo_cot: str = "{inputs}\nExplanation: {explanation}\nSo the answer is: {label}"
    query_plain: str = "{inputs}\nAnswer:"
    query_cot: str = "{inputs}\nExplanation:"
    cot_cue: str = "So the answer is"  # the phrase before the label in CoT answers
    separator: str = "\n\n"

    def with_overrides(self, overrides: dict[str, str] | None) -> PromptTemplate:
        if not overrides:
            return self
        allowed = {f.name for f in fields(self)}
        bad = sorted(set(overrides) - allowed)
        if bad:
            raise ValueError(f"template field(s) {bad} are invalid; allowed: {sorted(allowed)}")
        return replace(self, **{k: str(v) for k, v in overrides.items()})


TEMPLATES: dict[str, PromptTemplate] = {
    "default": PromptTemplate(),
    "paraphrase-1": PromptTemplate(
        name="paraphrase-1",
        header="Task: {instruction}\nChoose one label from: {labels}.",
        explain=(
            "{inputs}\nLabel: {label}\n"
            "In one or two sentences, give the reason this item is labelled {label}.\nReason:"
        ),
        demo_plain="{inputs}\nLabel: {label}",
        demo_cot="{inputs}\nReason: {explanation}\nTherefore the label is: {label}",
        query_plain="{inputs}\nLabel:",
        query_cot="{inputs}\nReason:",
        cot_cue="Therefore the label is",
    ),
    "paraphrase-2": PromptTemplate(
        name="paraphrase-2",
        header="You are an expert annotator. {instruction}\nValid answers are {labels}.",
        field_line="[{name}] {value}",
        explain=(
            "{inputs}\nCorrect answer: {label}\n"
            "Explain briefly what makes {label} the correct answer.\nRationale:"
        ),
        demo_plain="{inputs}\nCorrect answer: {label}",
        demo_cot="{inputs}\nRationale: {explanation}\nHence the correct answer is: {label}",
        query_plain="{inputs}\nCorrect answer:",
        query_cot="{inputs}\nRationale:",
        cot_cue="Hence the correct answer is",
    ),
}


def get_template(task: TaskSpec, name: str = "default") -> PromptTemplate:
    if name not in TEMPLATES:
        raise ValueError(f"template={name!r} is invalid; allowed: {sorted(TEMPLATES)}")
    return TEMPLATES[name].with_overrides(task.template)


def format_inputs(task: TaskSpec, item: dict[str, Any], template: PromptTemplate) -> str:
    return "\n".join(
        template.field_line.format(name=display, value=str(item[name]).strip())
        for name, display in task.input_fields.items()
    )


def _header(task: TaskSpec, template: PromptTemplate) -> str:
    if task.kind == "extraction":
        schema = json.dumps(task.schema, ensure_ascii=False)
        return (
            f"{task.instruction.strip()}\nAnswer with one JSON object on one line that follows "
            f"this JSON schema: {schema}"
        )
    labels = ", ".join(task.shown(label) for label in task.labels)
    head = template.header.format(instruction=task.instruction.strip(), labels=labels)
    for label, text in task.descriptions.items():
        head += f"\n- {task.shown(label)}: {text}"
    if task.kind == "multi_label":
        head += "\nGive every answer that applies, separated by commas, or none."
    return head


def explain_prompt(task: TaskSpec, demo: Demonstration, template: PromptTemplate) -> str:
    """Step 1 of AnnoLLM: ask why the gold label is right for a demonstration."""
    body = template.explain.format(
        inputs=format_inputs(task, demo.inputs, template), label=task.shown(demo.label)
    )
    return _header(task, template) + template.separator + body


def build_prompt(
    task: TaskSpec,
    item: dict[str, Any],
    mode: str,
    template: PromptTemplate,
    demonstrations: Sequence[Demonstration] | None = None,
    ask_confidence: bool = False,
) -> str:
    """The annotation prompt for one item in ``mode`` (see ``MODES``); ``ask_confidence``
    asks for a verbalised confidence after the answer (``ASK_CONFIDENCE``).

    ``cot`` and ``self_consistency`` need every demonstration to carry a non-empty explanation
    (from ``explain``): a demonstration without one is an error, not a silent plain prompt.
    """
    if mode not in MODES:
        raise ValueError(f"mode={mode!r} is invalid; allowed: {list(MODES)}")
    demos = list(task.demonstrations if demonstrations is None else demonstrations)
    parts = [_header(task, template) + (ASK_CONFIDENCE if ask_confidence else "")]
    cot = mode in ("cot", "self_consistency")
    if mode != "zero_shot":
        if not demos:
            raise ValueError(f"mode={mode!r} needs demonstrations; the task has none")
        for i, demo in enumerate(demos):
            inputs = format_inputs(task, demo.inputs, template)
            label = task.shown(demo.label)
            if cot:
                if not demo.explanation or not demo.explanation.strip():
                    raise ValueError(
                        f"demonstration {i} has no explanation; mode={mode!r} needs one per "
                        "demonstration (run `explain` first)"
                    )
                parts.append(
                    template.demo_cot.format(
                        inputs=inputs, explanation=demo.explanation.strip(), label=label
                    )
                )
            else:
                parts.append(template.demo_plain.format(inputs=inputs, label=label))
    query = template.query_cot if cot else template.query_plain
    parts.append(query.format(inputs=format_inputs(task, item, template)))
    return template.separator.join(parts)


def stop_sequences(mode: str, template: PromptTemplate) -> list[str]:
    """Stop before the model starts inventing the next example."""
    return [template.separator] if mode in ("cot", "self_consistency") else ["\n"]
