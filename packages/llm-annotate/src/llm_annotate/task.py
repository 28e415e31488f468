"""Task definitions: instruction, label set with verbalisers, input fields, demonstrations.

Loaded from YAML or JSON; every validation error names the field path and the line::

    name: sentiment
    instruction: Decide whether the review is positive or negative.
    input_fields: {text: Review}          # or a list: [text]
    labels:                               # label -> verbalisers (first one is shown)
      positive: [positive, good]
      negative: [negative, bad]
    demonstrations:
      - {text: "Loved it.", label: positive}
"""

from __future__ import annotations

import json
import os
from dataclasses import InitVar, dataclass, field
from typing import Any

import yaml

from .schema import check_schema, validate


class TaskError(ValueError):
    """A malformed task definition; the message names the field (and line when known)."""


class _PlainLoader(yaml.SafeLoader):
    """YAML loader that keeps every plain scalar a string, except ``null`` / ``~`` / empty.

    A task file holds only names and text, so nothing needs YAML 1.1's implicit typing, which
    turns ``yes``/``no``/``on``/``off`` into booleans and ``01`` into 1: labels stay exactly
    the strings the user wrote.
    """


_PlainLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag == "tag:yaml.org,2002:null"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


KINDS = ("classification", "multi_label", "extraction", "pairwise")


@dataclass
class Demonstration:
    inputs: dict[str, str]
    label: Any  # a label; a list of labels (multi_label); a JSON object (extraction)
    explanation: str | None = None


@dataclass
class TaskSpec:
    name: str
    instruction: str
    input_fields: dict[str, str]  # field name -> display name used in prompts
    labels: dict[str, list[str]]  # label -> verbalisers; the first is the one shown
    demonstrations: list[Demonstration] = field(default_factory=list)
    label_field: str = "label"  # gold label column in data, when present
    id_field: str = "id"
    template: dict[str, str] | None = None  # overrides of the prompt template's parts
    # "classification" | "multi_label" (a set of labels) | "extraction" (a JSON object) |
    # "pairwise" (two inputs, asked in both orders; a label only when both orders agree)
    kind: str = "classification"
    schema: dict[str, Any] | None = None  # extraction: the JSON schema answers must follow
    descriptions: dict[str, str] = field(default_factory=dict)  # label -> shown description
    lines: InitVar[dict[str, int] | None] = None  # field path -> line, for error messages

    def __post_init__(self, lines: dict[str, int] | None) -> None:
        _validate(self, lines or {})

    @property
    def label_names(self) -> list[str]:
        return list(self.labels)

    def shown(self, label: Any) -> str:
        """How prompts show ``label``: its first verbaliser; a comma list or "none" for a set
        of labels (multi_label); compact JSON (extraction)."""
        if self.kind == "extraction":
            return json.dumps(label, ensure_ascii=False)
        if self.kind == "multi_label" and isinstance(label, list):
            return ", ".join(self.labels[x][0] for x in label) or "none"
        return self.labels[label][0]

    def canonical(self, value: Any) -> Any:
        """A gold value in the form answers take: a sorted label list for multi_label (from a
        list or a comma-separated string), the object for extraction, else a string."""
        if value is None:
            return None
        if self.kind == "multi_label":
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            return sorted({str(v) for v in value if str(v).lower() != "none"})
        if self.kind == "extraction":
            return json.loads(value) if isinstance(value, str) else value
        return str(value)

    def check_inputs(self, item: dict[str, Any], where: str) -> None:
        missing = [f for f in self.input_fields if f not in item or item[f] is None]
        if missing:
            raise TaskError(
                f"{where}: missing input field(s) {missing}; the task needs "
                f"{list(self.input_fields)}, the item has {sorted(item)}"
            )

    def to_dict(self) -> dict[str, Any]:
        data = {
            "name": self.name,
            "instruction": self.instruction,
            "input_fields": dict(self.input_fields),
            "labels": {k: list(v) for k, v in self.labels.items()},
            "label_field": self.label_field,
            "id_field": self.id_field,
            "demonstrations": [
                {**d.inputs, self.label_field: d.label}
                | ({"explanation": d.explanation} if d.explanation else {})
                for d in self.demonstrations
            ],
        }
        if self.template:
            data["template"] = dict(self.template)
        if self.kind != "classification":
            data["kind"] = self.kind
        if self.schema is not None:
            data["schema"] = self.schema
        for label, text in self.descriptions.items():
            data["labels"][label] = {"verbalisers": data["labels"][label], "description": text}
        return data


def _line_map(node: yaml.Node, path: str, out: dict[str, int]) -> None:
    """Record the 1-based line of every field path; reject duplicate mapping keys."""
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            name = str(key.value)
            sub = f"{path}.{name}" if path else name
            if name in seen:
                raise TaskError(
                    f"line {key.start_mark.line + 1}: field {sub!r} is duplicated "
                    f"(first on line {seen[name]}); allowed: each key once"
                )
            seen[name] = key.start_mark.line + 1
            out[sub] = key.start_mark.line + 1
            _line_map(value, sub, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            _line_map(value, f"{path}[{i}]", out)


def _err(lines: dict[str, int], path: str, message: str) -> TaskError:
    """An error naming ``path`` and the line of it or of its closest enclosing field."""
    probe = path
    while probe and probe not in lines:
        cut = max(probe.rfind("."), probe.rfind("["))
        probe = probe[:cut] if cut > 0 else ""
    where = f"line {lines[probe]}: " if probe else ""
    return TaskError(f"{where}field {path!r}: {message}")


def _validate(task: TaskSpec, lines: dict[str, int]) -> None:
    if task.kind not in KINDS:
        raise _err(lines, "kind", f"{task.kind!r} is invalid; allowed: {list(KINDS)}")
    if task.kind == "extraction":
        problem = check_schema(task.schema)
        if problem:
            raise _err(lines, "schema", problem)
    if task.kind == "pairwise" and len(task.input_fields) != 2:
        raise _err(
            lines,
            "input_fields",
            f"{list(task.input_fields)} has {len(task.input_fields)} field(s); a pairwise task "
            "needs exactly 2 (the two things to match)",
        )
    _validate_common(task, lines)


def _validate_common(task: TaskSpec, lines: dict[str, int]) -> None:
    if not isinstance(task.name, str) or not task.name.strip():
        raise _err(lines, "name", f"{task.name!r} is invalid; allowed: a non-empty string")
    if not isinstance(task.instruction, str) or not task.instruction.strip():
        raise _err(lines, "instruction", "is empty; allowed: a non-empty string")
    if not task.input_fields:
        raise _err(lines, "input_fields", "is empty; allowed: at least one input field name")
    if len(task.labels) < 2 and task.kind != "extraction":
        raise _err(lines, "labels", f"has {len(task.labels)} label(s); allowed: at least 2")
    owner: dict[str, str] = {}
    for label, verbalisers in task.labels.items():
        path = f"labels.{label}"
        if not str(label).strip():
            raise _err(lines, "labels", "contains an empty label name")
        if not verbalisers:
            raise _err(lines, path, "has no verbalisers; allowed: a non-empty list of strings")
        for v in verbalisers:
            if not isinstance(v, str) or not v.strip():
                raise _err(lines, path, f"verbaliser {v!r} is empty; allowed: non-empty strings")
            key = v.strip().lower()
            if key in owner:
                raise _err(
                    lines,
                    path,
                    f"verbaliser {v!r} duplicates one of label {owner[key]!r}; "
                    "allowed: each verbaliser in one label only, once",
                )
            owner[key] = label
    for i, demo in enumerate(task.demonstrations):
        path = f"demonstrations[{i}]"
        where = f"{path}.{task.label_field}"
        if task.kind == "extraction":
            problem = validate(demo.label, task.schema or {}, "label")
            if problem:
                raise _err(lines, where, f"does not follow the schema: {problem}")
        elif task.kind == "multi_label":
            bad = [x for x in demo.label if x not in task.labels]
            if bad:
                raise _err(lines, where, f"labels {bad} are not in the label set")
        elif demo.label not in task.labels:
            raise _err(
                lines,
                f"{path}.{task.label_field}",
                f"label {demo.label!r} is not in the label set; allowed: {task.label_names}",
            )
        missing = [f for f in task.input_fields if f not in demo.inputs]
        if missing:
            raise _err(lines, path, f"is missing input field(s) {missing}")


def _refuse_booleans(value: Any, path: str, lines: dict[str, int]) -> None:
    """Labels must be the strings the user wrote: a boolean (JSON ``true``, YAML read by a
    YAML 1.1 loader) would silently become ``"True"``."""
    if isinstance(value, bool):
        raise _err(
            lines,
            path,
            f"{value!r} is a boolean, not a label; allowed: strings (quote it, e.g. "
            f'"{str(value).lower()}" or "{"yes" if value else "no"}")',
        )
    if isinstance(value, dict):
        for key, sub in value.items():
            _refuse_booleans(key, path, lines)
            _refuse_booleans(sub, f"{path}.{key}", lines)
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            _refuse_booleans(sub, f"{path}[{i}]", lines)


def task_from_dict(data: Any, lines: dict[str, int] | None = None) -> TaskSpec:
    """Build and validate a ``TaskSpec`` from parsed YAML/JSON (``lines``: path -> line)."""
    lines = lines or {}
    if not isinstance(data, dict):
        raise TaskError(
            f"the task file must hold a mapping at top level, got {type(data).__name__}"
        )
    known = {
        "name", "instruction", "input_fields", "labels", "demonstrations",
        "label_field", "id_field", "template", "kind", "schema",
    }  # fmt: skip
    for key in data:
        if key not in known:
            raise _err(lines, str(key), f"is unknown; allowed: {sorted(known)}")
    kind = str(data.get("kind", "classification"))
    required: tuple[str, ...] = ("name", "instruction", "input_fields", "labels")
    if kind == "extraction":
        required = ("name", "instruction", "input_fields", "schema")
    missing = [key for key in required if key not in data]
    if missing:
        raise TaskError(
            f"field(s) {missing} missing; required: {list(required)}; optional: "
            f"{sorted(known - set(required))}"
        )
    raw_fields = data["input_fields"]
    if isinstance(raw_fields, list) and all(isinstance(f, str) for f in raw_fields):
        input_fields = {f: f for f in raw_fields}
    elif isinstance(raw_fields, dict):
        input_fields = {str(k): str(v) for k, v in raw_fields.items()}
    else:
        raise _err(lines, "input_fields", "allowed: a list of names or a mapping name -> display")
    raw_labels = data.get("labels") or {}
    _refuse_booleans(raw_labels, "labels", lines)
    if isinstance(raw_labels, list):
        if len(set(map(str, raw_labels))) != len(raw_labels):
            raise _err(lines, "labels", f"{raw_labels} has duplicates; allowed: distinct labels")
        labels = {str(x): [str(x)] for x in raw_labels}
        descriptions = {}
    elif isinstance(raw_labels, dict):
        labels = {}
        descriptions: dict[str, str] = {}
        for k, v in raw_labels.items():
            if isinstance(v, dict):  # {verbalisers: [...], description: "..."}
                unknown = sorted(set(v) - {"verbalisers", "description"})
                if unknown:
                    raise _err(lines, f"labels.{k}", f"unknown keys {unknown}; allowed: "
                               "['verbalisers', 'description']")  # fmt: skip
                if v.get("description"):
                    descriptions[str(k)] = str(v["description"]).strip()
                v = v.get("verbalisers")
            if isinstance(v, str):
                v = [v]
            if v is None:
                v = [str(k)]
            if not isinstance(v, list):
                raise _err(lines, f"labels.{k}", "allowed: a verbaliser string or a list of them")
            labels[str(k)] = [x if isinstance(x, str) else ("" if x is None else str(x)) for x in v]
    else:
        raise _err(lines, "labels", "allowed: a list of labels or a mapping label -> verbalisers")
    label_field = str(data.get("label_field", "label"))
    demos = []
    raw_demos = data.get("demonstrations") or []
    if not isinstance(raw_demos, list):
        raise _err(lines, "demonstrations", "allowed: a list of mappings")
    for i, d in enumerate(raw_demos):
        if not isinstance(d, dict):
            raise _err(lines, f"demonstrations[{i}]", "allowed: a mapping of fields")
        if label_field not in d:
            raise _err(lines, f"demonstrations[{i}]", f"has no gold label field {label_field!r}")
        if kind != "extraction":  # an extracted object may hold booleans
            _refuse_booleans(d[label_field], f"demonstrations[{i}].{label_field}", lines)
        inputs = {k: str(v) for k, v in d.items() if k in input_fields}
        gold = d[label_field]
        if kind == "extraction" and isinstance(gold, str):
            try:
                gold = json.loads(gold)
            except json.JSONDecodeError as err:
                raise _err(lines, f"demonstrations[{i}]", f"label is not JSON: {err.msg}") from None
        if kind == "multi_label":
            gold = gold if isinstance(gold, list) else [gold]
            gold = [x.strip() for g in gold for x in str(g).split(",") if x.strip()]
            gold = sorted({x for x in gold if x.lower() != "none"})
        elif kind != "extraction":
            gold = str(gold)
        demos.append(Demonstration(inputs, gold, d.get("explanation")))
    template = data.get("template")
    if template is not None and not isinstance(template, dict):
        raise _err(lines, "template", "allowed: a mapping of template parts")
    return TaskSpec(
        name="" if data["name"] is None else str(data["name"]),
        instruction="" if data["instruction"] is None else str(data["instruction"]),
        input_fields=input_fields,
        labels=labels,
        demonstrations=demos,
        label_field=label_field,
        id_field=str(data.get("id_field", "id")),
        template=template,
        kind=kind,
        schema=data.get("schema"),
        descriptions=descriptions,
        lines=lines,
    )


def load_task(path: str | os.PathLike) -> TaskSpec:
    """Read a task from a ``.yaml``/``.yml``/``.json`` file; errors name the line and field."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise TaskError(f"task file {path!r} does not exist")
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    try:
        if path.endswith(".json"):
            try:
                json.loads(text)
            except json.JSONDecodeError as err:
                raise TaskError(f"{path}: line {err.lineno}: invalid JSON: {err.msg}") from None
        node = yaml.compose(text, Loader=_PlainLoader)
        data = yaml.load(text, Loader=_PlainLoader)  # noqa: S506 - a SafeLoader subclass
        if isinstance(data, dict) and data.get("kind") == "extraction":
            data = yaml.safe_load(text)  # extracted objects hold numbers and booleans
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        raise TaskError(f"{path}: {where}invalid YAML: {problem}") from None
    lines: dict[str, int] = {}
    try:
        if node is not None:
            _line_map(node, "", lines)
        return task_from_dict(data, lines)
    except TaskError as err:
        raise TaskError(f"{path}: {err}") from None
