"""Stage 3: compress the fine-tuned RTD teacher and distil two students with TED and KD.

Students (each distilled twice from the same start, once per method):
- ``losparse``: a copy of the teacher whose encoder linears become W = LR + S
  (lowrank-sparse), rows of S pruned to ``budget`` on the cubic schedule while it trains;
- ``half``: the teacher's every second layer (task-distill's ``student_from_teacher``).
TED (task-distill): stage-I task-aware filters on the frozen teacher and the frozen student,
then task + KD + filtered layer-wise loss. KD: task + KD on logits only. Both use
``TEDConfig``'s defaults (α_KL 20, T 2, layer term normalised by the teacher, α 1).
"""

from __future__ import annotations

import copy
import tempfile
import time

from lowrank_sparse import LoSparsePruner, apply_losparse, budget_config, compact
from task_distill import (
    FilterTrainer,
    KDTrainer,
    PadCollator,
    TEDConfig,
    TEDTrainer,
    student_from_teacher,
)

from .finetune import quiet, train_args
from .options import LifecycleOptions

STUDENTS = ("losparse", "half")
METHODS = ("ted", "kd")


def losparse_student(teacher, options: LifecycleOptions):
    """The teacher with its encoder linears replaced by LoSparse layers (same outputs now)."""
    unit = max(1, options.distill_steps // 10)
    config = budget_config(
        options.budget,
        low_rank_ratio=options.low_rank_ratio,
        warmup_steps=unit,
        initial_warmup=1,
        final_warmup=3,
        delta_t=max(1, unit // 2),
    )
    return apply_losparse(copy.deepcopy(teacher), config)


def initial_student(kind: str, teacher, options: LifecycleOptions):
    if kind == "losparse":
        return losparse_student(teacher, options)
    return student_from_teacher(teacher, every_k=2)


def _config(tmp: str, steps: int, options: LifecycleOptions) -> TEDConfig:
    return train_args(tmp, steps, options, cls=TEDConfig)


def stage_one_filters(teacher, student, train, pad_id: int, options: LifecycleOptions):
    """Task-aware filters for both sides of the layer mapping (backbones frozen)."""
    collate = PadCollator(pad_id)
    with tempfile.TemporaryDirectory() as tmp:
        args = _config(tmp, options.filter_steps, options)
        on_teacher = FilterTrainer(
            teacher, args, student=student, train_dataset=train, data_collator=collate
        )
        quiet(on_teacher).train()
        on_student = FilterTrainer(
            student, args, teacher=teacher, train_dataset=train, data_collator=collate
        )
        quiet(on_student).train()
    return on_teacher.filters, on_student.filters


def distill(kind: str, method: str, teacher, start, train, pad_id: int, options, filters=None):
    """Train a copy of ``start`` with ``method``; LoSparse students prune while they train and
    come back compacted. Returns ``(student, seconds)``."""
    student = copy.deepcopy(start)
    callbacks = [LoSparsePruner(student)] if kind == "losparse" else []
    begin = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        args = _config(tmp, options.distill_steps, options)
        common = dict(train_dataset=train, data_collator=PadCollator(pad_id), callbacks=callbacks)
        if method == "ted":
            teacher_filters, student_filters = filters
            trainer = TEDTrainer(
                student,
                args,
                teacher=teacher,
                teacher_filters=teacher_filters,
                student_filters=student_filters,
                **common,
            )
        else:
            trainer = KDTrainer(student, args, teacher=teacher, **common)
        quiet(trainer).train()
    if kind == "losparse":
        callbacks[0].finalize()  # the schedule ends at the budget; this makes it exact
        compact(student)
    return student.eval(), time.perf_counter() - begin
