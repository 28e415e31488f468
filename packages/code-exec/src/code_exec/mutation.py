"""Mutation augmentation with tree-sitter: operator-based mutants of Python programs.

Operators (mutation-testing names; the paper's Table 1 was not available to us, see README):
CRP constants, AOR arithmetic, ASR augmented assignment, ROR comparison, LCR and/or,
COI condition negation (insert/remove ``not``), BCR break<->continue, LBR loop bounds
(``range`` arguments +-1), SVR swap a variable use for another variable, SDL statement
deletion, SDU statement duplication. Every mutant is one edit, re-parsed and rejected when the
tree has an error; :func:`augment` then runs mutants in the sandbox and keeps those that end
with status ok and whose trace differs from the original's, deduplicated.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import tree_sitter_python
from lmlab_common import require
from tree_sitter import Language, Node, Parser

from .config import MUTATION_OPERATORS, MutationConfig

ARITH = ("+", "-", "*", "//", "%")
AUG = ("+=", "-=", "*=", "//=", "%=")
COMPARE = ("<", "<=", ">", ">=", "==", "!=")
Edit = tuple[int, int, str]  # (start byte, end byte, replacement)


@functools.lru_cache(maxsize=1)
def python_language() -> Language:
    return Language(tree_sitter_python.language())


def parse(source: str) -> Node:
    """Parse ``source``; raise ``ValueError`` with the first error line when it does not parse."""
    tree = Parser(python_language()).parse(source.encode("utf-8"))
    root = tree.root_node
    if root.has_error:
        bad = next((n for n in _walk(root) if n.type == "ERROR" or n.is_missing), root)
        raise ValueError(f"source does not parse: syntax error at line {bad.start_point[0] + 1}")
    return root


def _walk(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def _text(node: Node) -> str:
    return node.text.decode("utf-8")


def _swap(node: Node, choices: tuple[str, ...]) -> list[Edit]:
    current = _text(node)
    if current not in choices:
        return []
    return [(node.start_byte, node.end_byte, c) for c in choices if c != current]


def _crp(root: Node, variables: list[str]) -> list[Edit]:
    edits = []
    for n in _walk(root):
        if n.type == "integer":
            try:
                value = int(_text(n), 0)
            except ValueError:
                continue
            for new in {value + 1, value - 1, 0} - {value}:
                edits.append((n.start_byte, n.end_byte, str(new) if new >= 0 else f"({new})"))
        elif n.type in ("true", "false"):
            edits.append((n.start_byte, n.end_byte, "False" if n.type == "true" else "True"))
    return edits


def _operator_field(kind: str, choices: tuple[str, ...]) -> Callable[[Node, list[str]], list]:
    def op(root: Node, variables: list[str]) -> list[Edit]:
        edits = []
        for n in _walk(root):
            if n.type == kind:
                for child in n.children:
                    if not child.is_named:
                        edits += _swap(child, choices)
        return edits

    return op


def _lcr(root: Node, variables: list[str]) -> list[Edit]:
    return _operator_field("boolean_operator", ("and", "or"))(root, variables)


def _coi(root: Node, variables: list[str]) -> list[Edit]:
    edits = []
    for n in _walk(root):
        if n.type in ("if_statement", "elif_clause", "while_statement"):
            cond = n.child_by_field_name("condition")
            if cond is None:
                continue
            if cond.type == "not_operator":
                arg = cond.child_by_field_name("argument")
                edits.append((cond.start_byte, cond.end_byte, _text(arg)))
            else:
                edits.append((cond.start_byte, cond.end_byte, f"not ({_text(cond)})"))
    return edits


def _bcr(root: Node, variables: list[str]) -> list[Edit]:
    swap = {"break_statement": "continue", "continue_statement": "break"}
    return [(n.start_byte, n.end_byte, swap[n.type]) for n in _walk(root) if n.type in swap]


def _lbr(root: Node, variables: list[str]) -> list[Edit]:
    edits = []
    for n in _walk(root):
        if n.type != "call" or _text(n.child_by_field_name("function")) != "range":
            continue
        args = [a for a in n.child_by_field_name("arguments").children if a.is_named]
        if args and args[-1].type != "integer":  # integer bounds are already covered by CRP
            last = args[-1]
            for delta in ("+ 1", "- 1"):
                edits.append((last.start_byte, last.end_byte, f"{_text(last)} {delta}"))
    return edits


def _assigned_names(root: Node) -> list[str]:
    names = []
    for n in _walk(root):
        if n.type in ("assignment", "augmented_assignment") or n.type == "for_statement":
            left = n.child_by_field_name("left")
            if left is not None and left.type == "identifier":
                names.append(_text(left))
    return sorted(set(names))


def _svr(root: Node, variables: list[str]) -> list[Edit]:
    edits = []
    for n in _walk(root):
        if n.type != "identifier" or _text(n) not in variables:
            continue
        parent = n.parent
        if parent is None:
            continue
        definitions = ("assignment", "augmented_assignment", "for_statement")
        if parent.type in definitions and parent.child_by_field_name("left") == n:
            continue  # a definition, not a use
        if parent.type in ("keyword_argument", "function_definition", "parameters"):
            continue
        for other in variables:
            if other != _text(n):
                edits.append((n.start_byte, n.end_byte, other))
    return edits


_STATEMENTS = ("expression_statement", "return_statement", "pass_statement")


def _sdl(root: Node, variables: list[str]) -> list[Edit]:
    edits = []
    for n in _walk(root):
        if n.type in _STATEMENTS and n.parent is not None and n.parent.type in ("block", "module"):
            edits.append((n.start_byte, n.end_byte, "pass"))
    return edits


def _sdu(root: Node, variables: list[str]) -> list[Edit]:
    edits = []
    for n in _walk(root):
        if n.type == "expression_statement" and n.parent is not None:
            if n.parent.type not in ("block", "module"):
                continue
            indent = " " * n.start_point[1]
            edits.append((n.start_byte, n.end_byte, f"{_text(n)}\n{indent}{_text(n)}"))
    return edits


OPERATORS: dict[str, Callable[[Node, list[str]], list[Edit]]] = {
    "CRP": _crp,
    "AOR": _operator_field("binary_operator", ARITH),
    "ASR": _operator_field("augmented_assignment", AUG),
    "ROR": _operator_field("comparison_operator", COMPARE),
    "LCR": _lcr,
    "COI": _coi,
    "BCR": _bcr,
    "LBR": _lbr,
    "SVR": _svr,
    "SDL": _sdl,
    "SDU": _sdu,
}
if tuple(OPERATORS) != MUTATION_OPERATORS:  # config.py validates against the names
    raise RuntimeError(f"operators {sorted(OPERATORS)} != config {sorted(MUTATION_OPERATORS)}")


@dataclass
class Mutant:
    source: str
    operator: str
    line: int  # 0-based line of the edit


def candidate_mutants(source: str, config: MutationConfig | None = None) -> list[Mutant]:
    """Every single-edit mutant of ``source`` for the configured operators, seeded order,
    re-parsed (error trees rejected), deduplicated and different from the original."""
    config = config or MutationConfig()
    root = parse(source)
    data = source.encode("utf-8")
    variables = _assigned_names(root)
    seen, out = {_normalise(source)}, []
    for name in config.operators:
        for start, end, new in OPERATORS[name](root, variables):
            mutated = (data[:start] + new.encode("utf-8") + data[end:]).decode("utf-8")
            key = _normalise(mutated)
            if key in seen:
                continue
            seen.add(key)
            tree = Parser(python_language()).parse(mutated.encode("utf-8"))
            if tree.root_node.has_error:
                continue
            out.append(Mutant(mutated, name, data[:start].count(b"\n")))
    random.Random(config.seed).shuffle(out)
    return out


def _normalise(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def augment(
    source: str,
    sandbox,
    config: MutationConfig | None = None,
    original_trace=None,
) -> list[tuple[Mutant, object]]:
    """Mutants that terminate within the sandbox limits with status ok and whose trace differs
    from the original's; at most ``config.mutants_per_program`` (list of (mutant, trace))."""
    config = config or MutationConfig()
    require(hasattr(sandbox, "map"), "sandbox", type(sandbox).__name__, "a code_exec.Sandbox")
    original = original_trace or sandbox.run(source)
    reference = original.to_text() + "\x00" + original.stdout
    candidates = candidate_mutants(source, config)[: config.max_candidates]
    traces = sandbox.map([m.source for m in candidates], show_progress=False)
    kept, seen_traces = [], {reference}
    for mutant, result in zip(candidates, traces, strict=True):
        key = result.to_text() + "\x00" + result.stdout
        if result.status != "ok" or not result.steps or key in seen_traces:
            continue
        seen_traces.add(key)
        kept.append((mutant, result))
        if len(kept) == config.mutants_per_program:
            break
    return kept
