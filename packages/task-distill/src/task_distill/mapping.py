"""Layer mapping (which student layer is matched to which teacher layer) and student init.

Layer numbers are 1-based transformer blocks: layer ``i`` is ``hidden_states[i]`` of a model
called with ``output_hidden_states=True`` (``hidden_states[0]``, the embeddings, is never used,
as in the official code).
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Sequence

import torch
from transformers import AutoConfig, PretrainedConfig, PreTrainedModel

LayerPairs = list[tuple[int, int]]


def num_layers(config: PretrainedConfig) -> int:
    """Depth of a transformers config (``num_hidden_layers`` or GPT-2's ``n_layer``)."""
    for name in ("num_hidden_layers", "n_layer", "num_layers"):
        value = getattr(config, name, None)
        if isinstance(value, int):
            return value
    raise ValueError(f"cannot read the depth of {type(config).__name__}; set layer pairs")


def hidden_size(config: PretrainedConfig) -> int:
    for name in ("hidden_size", "n_embd", "d_model", "dim"):
        value = getattr(config, name, None)
        if isinstance(value, int):
            return value
    raise ValueError(f"cannot read the hidden size of {type(config).__name__}")


def interval_layers(depth: int, interval: int) -> list[int]:
    """Official placement: a filter on block ``i`` (0-based) iff ``(i + 1) % interval == 0``."""
    return [i + 1 for i in range(depth) if (i + 1) % interval == 0]


def auto_layer_pairs(
    student_depth: int, teacher_depth: int, num_filters: int | None = None
) -> LayerPairs:
    """Pair the last layer of each block, in order (the official interval rule).

    ``num_filters`` (K) defaults to the student depth; it must divide both depths, giving
    intervals ``L_S / K`` and ``L_T / K`` (the official ``L_S/r_S == L_T/r_T`` assertion).
    Example: student 6, teacher 12 → pairs (1,2), (2,4), …, (6,12).
    """
    for field, value in (("student depth", student_depth), ("teacher depth", teacher_depth)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{field}={value!r} is invalid; allowed: an int >= 1")
    k = student_depth if num_filters is None else num_filters
    if not isinstance(k, int) or k < 1 or student_depth % k or teacher_depth % k:
        common = [
            d
            for d in range(1, student_depth + 1)
            if math.gcd(student_depth, teacher_depth) % d == 0
        ]
        raise ValueError(
            f"num_filters={k!r} cannot pair a {student_depth}-layer student with a "
            f"{teacher_depth}-layer teacher by the interval rule (it must divide both depths); "
            f"allowed: one of {common}, or explicit layer pairs like '1:2,2:4'"
        )
    s_layers = interval_layers(student_depth, student_depth // k)
    t_layers = interval_layers(teacher_depth, teacher_depth // k)
    return list(zip(s_layers, t_layers, strict=True))


def parse_layer_pairs(spec: str | Sequence[Sequence[int]]) -> LayerPairs:
    """``"1:2,2:4"`` or ``[(1, 2), (2, 4)]`` → ``[(1, 2), (2, 4)]`` (student, teacher)."""
    if isinstance(spec, str):
        items = [p for p in re.split(r"[,\s]+", spec.strip()) if p]
        pairs = []
        for item in items:
            parts = item.split(":")
            if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
                raise ValueError(
                    f"layer_mapping item {item!r} is invalid; allowed: 'student:teacher' ints, "
                    "e.g. '1:2,2:4', or 'auto'"
                )
            pairs.append((int(parts[0]), int(parts[1])))
    else:
        pairs = []
        for p in spec:
            if len(p) != 2 or not all(isinstance(x, int) and not isinstance(x, bool) for x in p):
                raise ValueError(f"layer pair {p!r} is invalid; allowed: (student, teacher) ints")
            pairs.append((int(p[0]), int(p[1])))
    if not pairs:
        raise ValueError("layer_mapping is empty; allowed: 'auto' or at least one pair")
    for side, index in (("student", 0), ("teacher", 1)):
        seen = [p[index] for p in pairs]
        repeated = sorted({x for x in seen if seen.count(x) > 1})
        if repeated:
            text = ",".join(f"{s}:{t}" for s, t in pairs)
            raise ValueError(
                f"layer_mapping={text!r} is invalid: {side} layer(s) {repeated} appear in more "
                "than one pair; allowed: each student and each teacher layer at most once "
                "(one filter per layer)"
            )
    return pairs


def check_layer_pairs(pairs: LayerPairs, student_depth: int, teacher_depth: int) -> LayerPairs:
    """Raise ``ValueError`` if a pair is outside ``1..depth`` of its model."""
    for s, t in pairs:
        if not 1 <= s <= student_depth:
            raise ValueError(
                f"layer pair ({s}, {t}): student layer {s} is out of range; allowed: "
                f"1..{student_depth} (the student has {student_depth} layers)"
            )
        if not 1 <= t <= teacher_depth:
            raise ValueError(
                f"layer pair ({s}, {t}): teacher layer {t} is out of range; allowed: "
                f"1..{teacher_depth} (the teacher has {teacher_depth} layers)"
            )
    return pairs


def resolve_layer_pairs(
    mapping: str | Sequence[Sequence[int]],
    student_depth: int,
    teacher_depth: int,
    num_filters: int | None = None,
) -> LayerPairs:
    """``"auto"`` → :func:`auto_layer_pairs`; anything else is parsed and range-checked."""
    if isinstance(mapping, str) and mapping.strip().lower() == "auto":
        return auto_layer_pairs(student_depth, teacher_depth, num_filters)
    return check_layer_pairs(parse_layer_pairs(mapping), student_depth, teacher_depth)


_LAYER_LISTS = (
    "bert.encoder.layer",
    "deberta.encoder.layer",
    "roberta.encoder.layer",
    "encoder.layer",
    "transformer.h",
    "model.layers",
    "layers",
    "h",
)


def _layer_list(model: torch.nn.Module) -> tuple[str, torch.nn.ModuleList]:
    modules = dict(model.named_modules())
    for name in _LAYER_LISTS:
        mod = modules.get(name)
        if isinstance(mod, torch.nn.ModuleList):
            return name, mod
    raise ValueError(
        f"cannot find the block list of {type(model).__name__}; allowed: a model with one of "
        f"{list(_LAYER_LISTS)}; build the student from a smaller config instead"
    )


def student_from_teacher(
    teacher: PreTrainedModel,
    every_k: int | None = None,
    layers: Sequence[int] | None = None,
) -> PreTrainedModel:
    """A shallower copy of ``teacher`` that keeps every ``every_k``-th block (or ``layers``).

    ``every_k=2`` on 12 layers keeps blocks 2, 4, …, 12 (1-based, the last of each group, as the
    interval rule pairs them). Embeddings, heads and everything else are copied.
    """
    depth = num_layers(teacher.config)
    if layers is None:
        if not isinstance(every_k, int) or every_k < 1 or depth % every_k:
            raise ValueError(
                f"every_k={every_k!r} is invalid; allowed: an int >= 1 dividing the teacher "
                f"depth {depth}"
            )
        layers = interval_layers(depth, every_k)
    layers = list(layers)
    if not layers or any(not 1 <= i <= depth for i in layers):
        raise ValueError(f"layers={layers!r} is invalid; allowed: a non-empty subset of 1..{depth}")
    student = copy.deepcopy(teacher)
    _, block_list = _layer_list(student)
    kept = [block_list[i - 1] for i in layers]
    block_list._modules.clear()
    for j, block in enumerate(kept):
        block_list.add_module(str(j), block)
        for attr in ("layer_idx", "layer_id"):
            for sub in block.modules():
                if isinstance(getattr(sub, attr, None), int):
                    setattr(sub, attr, j)
    for name in ("num_hidden_layers", "n_layer"):
        if hasattr(student.config, name) and isinstance(getattr(student.config, name), int):
            setattr(student.config, name, len(kept))
    if getattr(student.config, "layer_types", None):
        student.config.layer_types = [student.config.layer_types[i - 1] for i in layers]
    return student


def student_from_config(
    teacher: PreTrainedModel, seed: int | None = None, **config_changes
) -> PreTrainedModel:
    """A randomly initialised model of the teacher's class with a smaller config.

    ``config_changes`` override the teacher's config (e.g. ``hidden_size=32``,
    ``num_hidden_layers=2``); vocabulary and labels stay the teacher's, so KD stays valid.
    """
    cfg = AutoConfig.for_model(**{**teacher.config.to_dict(), **config_changes})
    if seed is not None:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            return type(teacher)(cfg)
    return type(teacher)(cfg)
