"""The JSON-schema subset an extraction task declares, and a validator with clear messages.

Supported: ``type`` (object, array, string, number, integer, boolean, null, or a list of
them), ``properties``, ``required``, ``additionalProperties: false``, ``items``, ``enum``.
That covers flat and nested records of fields and spans; anything else in the schema is
shown to the model but not checked.
"""

from __future__ import annotations

from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "null": (type(None),),
}


def check_schema(schema: Any) -> str | None:
    """Why ``schema`` is not a usable extraction schema (``None`` when it is)."""
    if not isinstance(schema, dict) or schema.get("type", "object") != "object":
        return "allowed: a JSON schema of type 'object'"
    if not isinstance(schema.get("properties"), dict) or not schema["properties"]:
        return "needs 'properties': a mapping field -> schema, at least one"
    required = schema.get("required", [])
    if not isinstance(required, list) or not set(required) <= set(schema["properties"]):
        return f"'required' {required!r} must list names from 'properties'"
    return None


def _is(value: Any, kind: str) -> bool:
    if kind not in _TYPES:
        return True  # a type we do not check
    if isinstance(value, bool) and kind in ("number", "integer"):
        return False
    return isinstance(value, _TYPES[kind])


def validate(value: Any, schema: dict[str, Any], path: str = "answer") -> str | None:
    """The first way ``value`` breaks ``schema``, naming the field path; ``None`` if valid."""
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else list(kinds)
        if not any(_is(value, k) for k in kinds):
            return f"{path} is {type(value).__name__} {value!r:.60}; allowed: {' or '.join(kinds)}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{path}={value!r:.60} is not one of {schema['enum']}"
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        missing = [name for name in schema.get("required", []) if name not in value]
        if missing:
            return f"{path} misses required field(s) {missing}"
        if schema.get("additionalProperties") is False:
            extra = sorted(set(value) - set(properties))
            if extra:
                return f"{path} has unknown field(s) {extra}; allowed: {sorted(properties)}"
        for name, sub in properties.items():
            if name in value and isinstance(sub, dict):
                problem = validate(value[name], sub, f"{path}.{name}")
                if problem:
                    return problem
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, element in enumerate(value):
            problem = validate(element, schema["items"], f"{path}[{i}]")
            if problem:
                return problem
    return None
