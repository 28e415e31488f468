"""Run under torchrun by test_ddp.py: train MIM a few steps, write each rank's weight digest.

usage: ddp_train.py OUT_DIR MAX_STEPS [RESUME_CHECKPOINT]
"""

import os
import sys

import torch
from bidir_lm import BidirectionalLM, MIMConfig, MIMTrainer, PadCollator, ToyPrograms, toy_tokenizer
from datasets import Dataset
from lmlab_common import tiny_causal_lm
from lmlab_common.testing import parameters_digest

torch.set_num_threads(1)
out_dir, max_steps = sys.argv[1], int(sys.argv[2])
resume = sys.argv[3] if len(sys.argv) > 3 else None
task = ToyPrograms()
tokenizer = toy_tokenizer(task)
lm = tiny_causal_lm(
    "gpt2",
    vocab_size=len(tokenizer) + 6,
    hidden_size=32,
    num_layers=2,
    num_heads=2,
    max_position_embeddings=64,
    seed=0,
)  # dropout on: RNG resumes too
model = BidirectionalLM.from_causal_lm(lm, tokenizer)
docs = [tokenizer.convert_tokens_to_ids(p.words) for p in task.programs(64, seed=0)]
args = MIMConfig(
    output_dir=out_dir,
    method="mim",
    beta=1.0,
    max_steps=max_steps,
    per_device_train_batch_size=4,
    learning_rate=5e-3,
    save_strategy="steps",
    save_steps=2,
    logging_steps=1,
    report_to="none",
    use_cpu=True,
    ddp_backend="gloo",
    seed=0,
    disable_tqdm=True,
)
trainer = MIMTrainer(
    model,
    args,
    train_dataset=Dataset.from_dict({"input_ids": docs}),
    data_collator=PadCollator(0),
    processing_class=tokenizer,
)
trainer.train(resume_from_checkpoint=resume)
rank = int(os.environ.get("RANK", "0"))
with open(os.path.join(out_dir, f"digest_rank{rank}.txt"), "w") as fh:
    fh.write(parameters_digest(model))
