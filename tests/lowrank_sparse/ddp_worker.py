"""Run under ``torchrun --nproc_per_node 2`` by ``test_distributed.py`` (not a test itself).

A LoSparse pruning run inside the Trainer (DDP over gloo): 6 steps with a checkpoint every 4,
then a fresh run resumed from ``checkpoint-4``. Each rank writes ``rank<r>.json`` with the
parameter digest, the keep masks and the pruner's step after each run.
"""

import json
import os
import sys

import torch
from lmlab_common import tiny_encoder
from lmlab_common.testing import parameters_digest
from lowrank_sparse import (
    LoSparsePruner,
    apply_losparse,
    budget_config,
    compression_report,
    losparse_layers,
)
from transformers import Trainer, TrainingArguments

STEPS = 6
SCHEDULE = dict(warmup_steps=1, initial_warmup=1, final_warmup=2, delta_t=1)


def data(n=48):
    g = torch.Generator().manual_seed(0)
    return [
        {"input_ids": torch.randint(5, 100, (8,), generator=g), "labels": i % 2} for i in range(n)
    ]


def model():
    base = tiny_encoder("bert", head="sequence_classification", seed=0)
    return apply_losparse(base, budget_config(0.3, **SCHEDULE))


def args(out):
    return TrainingArguments(
        output_dir=out,
        max_steps=STEPS,
        per_device_train_batch_size=4,
        learning_rate=1e-3,
        use_cpu=True,
        ddp_backend="gloo",
        save_strategy="steps",
        save_steps=4,
        report_to="none",
        disable_tqdm=True,
        logging_strategy="no",
        seed=0,
    )


def summary(net, pruner):
    masks = torch.cat([m.keep_mask.flatten().int() for m in losparse_layers(net).values()])
    return {
        "digest": parameters_digest(net),
        "masks": masks.tolist(),
        "pruner_step": pruner.global_step,
        "ratio": compression_report(net).ratio,
    }


def main(out: str) -> None:
    rank = int(os.environ["RANK"])
    result = {}
    net = model()
    pruner = LoSparsePruner(net)
    Trainer(model=net, args=args(os.path.join(out, "run")), train_dataset=data(),
            callbacks=[pruner]).train()  # fmt: skip
    result["straight"] = summary(net, pruner)

    # Resume into another folder: the callback learns the checkpoint from the arguments.
    resumed = model()
    pruner2 = LoSparsePruner(resumed)
    checkpoint = os.path.join(out, "run", "checkpoint-4")
    resume_args = args(os.path.join(out, "resumed"))
    resume_args.resume_from_checkpoint = checkpoint
    Trainer(model=resumed, args=resume_args, train_dataset=data(),
            callbacks=[pruner2]).train(resume_from_checkpoint=checkpoint)  # fmt: skip
    result["resumed"] = summary(resumed, pruner2)
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1])
