"""Run under ``torchrun --nproc_per_node 2`` by ``test_distributed.py`` (not a test itself).

One launch trains all four trainers in sequence (start-up is the expensive part). For each:
3 steps with a checkpoint every 2 steps, then a fresh trainer resumed from ``checkpoint-2``.
Each rank writes ``rank<r>.json``: per trainer the digest of the trained module after the
uninterrupted run and after the resumed run, and the largest weight difference between them.
"""

import json
import os
import sys

import torch
from lmlab_common import tiny_encoder
from lmlab_common.testing import parameters_digest
from task_distill import (
    FilterTrainer,
    KDTrainer,
    LayerwiseTrainer,
    PadCollator,
    TEDConfig,
    TEDTrainer,
)
from task_distill.tasks import NuisanceTask

TASK = NuisanceTask(min_len=6, max_len=8)


def models():
    common = dict(vocab_size=TASK.vocab_size, num_heads=2)
    teacher = tiny_encoder("bert", "sequence_classification", hidden_size=32, num_layers=2,
                           seed=0, **common)  # fmt: skip
    student = tiny_encoder("bert", "sequence_classification", hidden_size=16, num_layers=1,
                           seed=1, **common)  # fmt: skip
    return teacher, student


def args(out, max_steps=3, save=True):
    return TEDConfig(
        output_dir=out,
        max_steps=max_steps,
        per_device_train_batch_size=4,
        learning_rate=1e-2,
        kl_alpha=1.0,
        mse_alpha=1.0,
        use_cpu=True,
        ddp_backend="gloo",
        save_strategy="steps" if save else "no",
        save_steps=2,
        report_to="none",
        disable_tqdm=True,
        logging_steps=1,
        seed=0,
    )


def state_of(trainer):
    module = trainer.accelerator.unwrap_model(trainer.model)
    return {k: v.detach().clone() for k, v in module.state_dict().items()}, parameters_digest(
        module
    )


def main(out: str) -> None:
    rank = int(os.environ["RANK"])
    data = TASK.dataset(48, split_seed=1).remove_columns("styles")
    collate = PadCollator()
    teacher, student = models()

    # Student-side stage-I filters for TED (not itself under test here).
    fs = FilterTrainer(student, args(os.path.join(out, "fs"), 2, save=False), teacher=teacher,
                       train_dataset=data, data_collator=collate)  # fmt: skip
    fs.train()
    filters: dict = {}

    def make(name, out_dir):
        t, s = models()
        kw = dict(train_dataset=data, data_collator=collate)
        if name == "filter":
            return FilterTrainer(t, args(out_dir), student=s, **kw)
        if name == "kd":
            return KDTrainer(s, args(out_dir), teacher=t, **kw)
        if name == "lwd":
            return LayerwiseTrainer(s, args(out_dir), teacher=t, **kw)
        return TEDTrainer(s, args(out_dir), teacher=t, **filters, **kw)

    record = {}
    for name in ("filter", "kd", "lwd", "ted"):
        out_dir = os.path.join(out, name)
        first = make(name, out_dir)
        first.train()
        full, digest = state_of(first)
        if name == "filter":
            filters = {"teacher_filters": first.filters, "student_filters": fs.filters}
        torch.distributed.barrier()
        resumed = make(name, out_dir + "-resumed")
        resumed.train(resume_from_checkpoint=os.path.join(out_dir, "checkpoint-2"))
        again, digest_again = state_of(resumed)
        record[name] = {
            "digest": digest,
            "digest_resumed": digest_again,
            "resume_max_diff": max(float((full[k] - again[k]).abs().max()) for k in full),
            "global_step": first.state.global_step,
            "resumed_global_step": resumed.state.global_step,
            "first_losses": [r["loss"] for r in first.state.log_history if "loss" in r],
        }
    with open(os.path.join(out, f"rank{rank}.json"), "w") as fh:
        json.dump(record, fh)


if __name__ == "__main__":
    main(sys.argv[1])
