import json
import re

from lmlab_common.testing import run_torchrun


def _train(out, corpus_file, steps, extra=()):
    proc = run_torchrun(
        ["-m", "rtd_pretrain", "train", "--corpus", str(corpus_file), "--output-dir", str(out),
         "--hidden-size", "16", "--num-layers", "2", "--num-heads", "2", "--block-size", "32",
         "--batch-size", "4", "--max-steps", str(steps), "--save-steps", "2", "--logging-steps",
         "1", "--use-cpu", "--ddp-backend", "gloo", "--seed", "3", *extra],
        nproc=2,
    )  # fmt: skip
    # the two ranks' stdout may interleave on one line: pick the summary objects out
    lines = [
        json.loads(x) for x in re.findall(r'\{"rank": .*?"output_dir": "[^"]*"\}', proc.stdout)
    ]
    assert sorted(x["rank"] for x in lines) == [0, 1], proc.stdout[-2000:]
    return lines


def test_two_process_gloo_identical_ranks_checkpoint_and_resume(tmp_path, corpus):
    corpus_file = tmp_path / "corpus.txt"
    corpus_file.write_text("\n".join(corpus.sentences(80)))
    full = _train(tmp_path / "full", corpus_file, 4)
    assert full[0]["parameters_sha256"] == full[1]["parameters_sha256"]
    assert (tmp_path / "full" / "checkpoint-2" / "rtd_model.safetensors").exists()
    assert (tmp_path / "full" / "discriminator" / "config.json").exists()
    ckpt = tmp_path / "full" / "checkpoint-2"
    resumed = _train(tmp_path / "resumed", corpus_file, 4, ["--resume-from-checkpoint", str(ckpt)])
    assert resumed[0]["parameters_sha256"] == resumed[1]["parameters_sha256"]
    assert resumed[0]["global_step"] == 4
    # resuming from step 2 continues the same run: same weights as the uninterrupted one
    assert resumed[0]["parameters_sha256"] == full[0]["parameters_sha256"]
