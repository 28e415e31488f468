"""Step time of TED stage II vs KD vs LWD vs plain fine-tuning of the student, in one run.

Fixed shapes: teacher BERT 4×128, student BERT 2×64, batch 32 × 32 tokens, CPU. Reports the
median seconds per optimiser step and ratios to KD and to plain fine-tuning; writes
benchmarks/results/bench_task_distill.json. Target from the issue: TED ≤ 1.15× KD.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time

import torch
from lmlab_common import atomic_write_json, environment, tiny_encoder
from task_distill import (
    FilterTrainer,
    KDTrainer,
    LayerwiseTrainer,
    PadCollator,
    TEDConfig,
    TEDTrainer,
)
from task_distill.tasks import NuisanceTask
from transformers import Trainer, TrainerCallback

STEPS, WARMUP = 12, 2


class StepTimer(TrainerCallback):
    def __init__(self) -> None:
        self.times: list[float] = []
        self._t = 0.0

    def on_step_begin(self, args, state, control, **kwargs):
        self._t = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(time.perf_counter() - self._t)


def main() -> None:
    torch.manual_seed(0)
    task = NuisanceTask(min_len=30, max_len=30)
    data = task.dataset(32 * STEPS, split_seed=1).remove_columns("styles")
    teacher = tiny_encoder(
        "bert",
        "sequence_classification",
        vocab_size=task.vocab_size,
        hidden_size=128,
        num_layers=4,
        num_heads=4,
        seed=0,
    )
    student = tiny_encoder(
        "bert",
        "sequence_classification",
        vocab_size=task.vocab_size,
        hidden_size=64,
        num_layers=2,
        num_heads=2,
        seed=1,
    )
    with tempfile.TemporaryDirectory() as tmp:
        args = TEDConfig(
            output_dir=tmp,
            max_steps=STEPS,
            per_device_train_batch_size=32,
            use_cpu=True,
            report_to="none",
            save_strategy="no",
            disable_tqdm=True,
        )
        collate = PadCollator()
        ft = FilterTrainer(
            teacher,
            args.__class__(**{**args.to_dict(), "max_steps": 1}),
            student=student,
            train_dataset=data,
            data_collator=collate,
        )
        fs = FilterTrainer(
            student,
            args.__class__(**{**args.to_dict(), "max_steps": 1}),
            teacher=teacher,
            train_dataset=data,
            data_collator=collate,
        )
        ft.train()
        fs.train()
        arms = {
            "finetune": lambda s: Trainer(
                model=s, args=args, train_dataset=data, data_collator=collate
            ),
            "kd": lambda s: KDTrainer(
                s, args, teacher=teacher, train_dataset=data, data_collator=collate
            ),
            "lwd": lambda s: LayerwiseTrainer(
                s, args, teacher=teacher, train_dataset=data, data_collator=collate
            ),
            "ted": lambda s: TEDTrainer(
                s,
                args,
                teacher=teacher,
                teacher_filters=ft.filters,
                student_filters=fs.filters,
                train_dataset=data,
                data_collator=collate,
            ),
        }
        step_s = {}
        for name, make in arms.items():
            s = tiny_encoder(
                "bert",
                "sequence_classification",
                vocab_size=task.vocab_size,
                hidden_size=64,
                num_layers=2,
                num_heads=2,
                seed=1,
            )
            trainer = make(s)
            timer = StepTimer()
            trainer.add_callback(timer)
            trainer.train()
            step_s[name] = statistics.median(timer.times[WARMUP:])
    result = {
        "machine": environment(),
        "shapes": {"teacher": "bert 4x128", "student": "bert 2x64", "batch": [32, 32]},
        "median_step_seconds": step_s,
        "ratio_to_kd": {k: v / step_s["kd"] for k, v in step_s.items()},
        "ratio_to_finetune": {k: v / step_s["finetune"] for k, v in step_s.items()},
    }
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    os.makedirs(out, exist_ok=True)
    atomic_write_json(os.path.join(out, "bench_task_distill.json"), result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
