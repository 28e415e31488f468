"""Run under torchrun by test_torchrun.py: a few JGR steps on 2 CPU processes (gloo).

argv: OUT_DIR MAX_STEPS [RESUME_CHECKPOINT]. Each rank writes its parameter digests to
OUT_DIR/digest-<rank>.json.
"""

import json
import os
import sys

import torch
from gen_rank import ChainTask, JGRConfig, JGRTrainer, Ranker, chain_metric
from lmlab_common import tiny_causal_lm, tiny_encoder
from lmlab_common.testing import parameters_digest

out, max_steps = sys.argv[1], int(sys.argv[2])
resume = sys.argv[3] if len(sys.argv) > 3 else None
torch.set_num_threads(1)
task = ChainTask()
tok = task.tokenizer()
gen = tiny_causal_lm("gpt2", vocab_size=len(tok), hidden_size=16, num_layers=1, num_heads=2,
                     seed=0)  # fmt: skip
ranker = Ranker(tiny_encoder("bert", vocab_size=len(tok), hidden_size=16, num_layers=1,
                             num_heads=2, seed=0))  # fmt: skip
args = JGRConfig(
    output_dir=out,
    max_steps=max_steps,
    per_device_train_batch_size=2,
    iteration_steps=2,
    iteration_ranker_steps=1,
    generator_num_cand_generated=3,
    num_cand_generated=4,
    num_cand_picked=3,
    max_new_tokens=10,
    learning_rate=1e-3,
    ranker_learning_rate=1e-3,
    save_strategy="steps",
    save_steps=2,
    use_cpu=True,
    ddp_backend="gloo",
    report_to="none",
    disable_tqdm=True,
    seed=0,
)
trainer = JGRTrainer(gen, ranker, args, tok, metric=chain_metric, train_dataset=task.dataset(32))
trainer.train(resume_from_checkpoint=resume)
rank = int(os.environ.get("RANK", "0"))
with open(os.path.join(out, f"digest-{rank}.json"), "w") as fh:
    json.dump({
        "generator": parameters_digest(trainer.generator),
        "ranker": parameters_digest(trainer.ranker),
        "step": trainer.state.global_step,
        "world": trainer.args.world_size,
    }, fh)  # fmt: skip
