"""VerifierTrainer under torchrun --nproc_per_node 2 (gloo, CPU): identical ranks, a
checkpoint, and a resume that continues the same run."""

import json
import shutil
import textwrap

from lmlab_common.testing import run_torchrun

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import torch.distributed as dist
    from lmlab_common import tiny_encoder
    from lmlab_common.testing import parameters_digest
    from step_verifier import (StepAwareVerifier, SyntheticTask, VerifierConfig, VerifierTrainer,
                               VerifierTrainingConfig, build_verifier_dataset, synthetic_tokenizer)

    out, resume = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None
    tok = synthetic_tokenizer()
    enc = tiny_encoder("bert", "token_classification", vocab_size=len(tok), hidden_size=32,
                       num_layers=1, num_heads=2, num_labels=5, seed=0)
    verifier = StepAwareVerifier(enc, tok, VerifierConfig(max_length=96))
    data = build_verifier_dataset(verifier, SyntheticTask(seed=1).problems(24, paths=3))
    args = VerifierTrainingConfig(output_dir=out, alpha=0.1, max_steps=4, save_steps=2,
                                  per_device_train_batch_size=4, learning_rate=1e-3,
                                  use_cpu=True, ddp_backend="gloo", report_to="none",
                                  disable_tqdm=True, seed=0)
    trainer = VerifierTrainer(verifier, args, train_dataset=data)
    trainer.train(resume_from_checkpoint=resume)
    rank = int(os.environ.get("RANK", 0))
    with open(os.path.join(out, f"rank{rank}.json"), "w") as fh:
        json.dump({"digest": parameters_digest(verifier), "step": trainer.state.global_step,
                   "world": dist.get_world_size() if dist.is_initialized() else 1,
                   "alpha": trainer.args.alpha}, fh)
    """
)


def _ranks(out):
    return [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]


def test_two_process_train_checkpoint_resume(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    full = tmp_path / "full"
    run_torchrun([str(script), str(full)], nproc=2, timeout=600)
    a, b = _ranks(full)
    assert a["world"] == b["world"] == 2
    assert a["digest"] == b["digest"] and a["step"] == 4
    ckpt = full / "checkpoint-2"
    assert (ckpt / "verifier_config.json").exists() and (ckpt / "trainer_state.json").exists()
    # resume from step 2 in a fresh folder: must end exactly where the uninterrupted run did
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    shutil.copytree(ckpt, resumed / "checkpoint-2")
    run_torchrun([str(script), str(resumed), str(resumed / "checkpoint-2")], nproc=2, timeout=600)
    c, d = _ranks(resumed)
    assert c["digest"] == d["digest"] == a["digest"]
    assert c["step"] == 4 and c["alpha"] == 0.1
