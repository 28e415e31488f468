"""Values rendered in the official trace style: space-separated tokens, strings unquoted.

No user code runs while rendering: user objects become a type tag ``<Name>`` (their
``__repr__`` is never called), and set elements are ordered by their *rendered* text.
"""

MAX_VALUE_CHARS = 200  # a rendered value is cut here (the model sees bounded values)
MAX_ITEMS = 20  # container items shown before "..."
HIDDEN_KINDS = ("module", "function", "builtin_function_or_method", "type", "method")


def render(value, depth=0):
    """Render ``value`` as space-separated tokens in the official trace style (no quotes)."""
    try:
        text = _render(value, depth)
    except Exception:  # a value that cannot be rendered becomes a type tag
        text = "<" + type(value).__name__ + ">"
    if len(text) > MAX_VALUE_CHARS:
        text = text[:MAX_VALUE_CHARS] + " ..."
    return text


def _render(value, depth):
    t = type(value)
    if value is None or t is bool or t is int or t is float or t is complex:
        if t is int and value.bit_length() > 256:
            return "<int>"
        return repr(value)
    if t is str:
        text = (
            value[: MAX_VALUE_CHARS + 1]
            .replace("\\", "\\\\")
            .replace("\n", "\\n")
            .replace("\t", "\\t")
        )
        return text.replace("<", "\\x3c") or "''"  # '<' would collide with the markers
    if depth > 4:
        return "..."
    if t in (list, tuple, set, frozenset, dict):
        if t is dict:
            items = list(value.items())
            parts = [render(k, depth + 1) + " : " + render(v, depth + 1)
                     for k, v in items[:MAX_ITEMS]]  # fmt: skip
            more = len(items) > MAX_ITEMS
        elif t in (set, frozenset):
            # sort the rendered texts, never the values: no user __repr__ / __lt__ runs
            parts = sorted(render(v, depth + 1) for v in value)
            more = len(parts) > MAX_ITEMS
            parts = parts[:MAX_ITEMS]
        else:
            items = list(value)
            parts = [render(v, depth + 1) for v in items[:MAX_ITEMS]]
            more = len(items) > MAX_ITEMS
        if more:
            parts.append("...")
        left, right = {list: "[]", tuple: "()", dict: "{}"}.get(t, "{}")
        if t is frozenset:
            left, right = "frozenset(", ")"
        return (left + " " + " , ".join(parts) + " " + right) if parts else left + right
    if t is range or t is bytes:
        return repr(value)[:MAX_VALUE_CHARS].replace("<", "\\x3c")
    # Anything else (user classes, iterators, functions): a type tag; user __repr__ never runs.
    return "<" + t.__name__ + ">"


def visible_state(frame):
    """The variables a line can see: locals of a function, user globals at module level."""
    out = {}
    for name, value in list(frame.f_locals.items()):
        if name.startswith("__") or name.startswith("."):
            continue
        if type(value).__name__ in HIDDEN_KINDS:
            continue
        out[name] = render(value)
    return out
