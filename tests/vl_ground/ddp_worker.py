"""Run by torchrun in test_distributed.py: a few GrillTrainer steps, then a digest per rank."""

import json
import os
import sys

import torch
from lmlab_common.testing import parameters_digest
from transformers import TrainerCallback
from vl_ground import (
    GrillModel,
    GrillProcessor,
    GrillTrainer,
    GrillTrainingArguments,
    generate_scenes,
    scene_to_example,
    training_view,
)
from vl_ground.scenes import all_texts

# argv: output folder, step to stop at (simulated interruption), fresh|resume; the run itself is
# always 4 steps long, so an interrupted-then-resumed run must equal an uninterrupted one.
out_dir, stop_at, resume = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "resume"
max_steps = 4


class StopAt(TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= stop_at:
            control.should_save = True
            control.should_training_stop = True


torch.set_num_threads(1)
processor = GrillProcessor.from_texts(all_texts())
examples = [scene_to_example(training_view(s)) for s in generate_scenes(64, seed=5)]
model = GrillModel.from_processor(
    processor, hidden_size=32, num_layers=1, num_heads=2, align_dim=16, seed=0
)
args = GrillTrainingArguments(
    output_dir=out_dir,
    max_steps=max_steps,
    per_device_train_batch_size=4,
    save_steps=2,
    save_strategy="steps",
    logging_steps=1,
    report_to=[],
    use_cpu=True,
    ddp_backend="gloo",
    seed=0,
    disable_tqdm=True,
    learning_rate=1e-3,
)
trainer = GrillTrainer(model, args, processor, train_dataset=examples, callbacks=[StopAt()])
trainer.train(resume_from_checkpoint=True if resume else None)
rank = int(os.environ.get("RANK", 0))
with open(os.path.join(out_dir, f"digest-{rank}-{stop_at}.json"), "w") as fh:
    json.dump({"digest": parameters_digest(model), "step": trainer.state.global_step}, fh)
# Leave the process group before exit: tearing gloo down in interpreter shutdown has aborted a
# rank ("terminate called without an active exception") after a finished run.
if torch.distributed.is_initialized():
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()
