"""Against a real OpenAI-compatible server: transformers' own ``transformers serve``.

The model is a tiny GPT-2 built from a config with a byte-level BPE tokenizer trained here. Its
weights are set so that it says " positive" whatever the prompt (final layer norm zeroed, its
bias pointing at that token's embedding), which makes the labelled path checkable; a task whose
labels it never says checks the loud "every item unparseable" outcome on the same server.
Skipped only when the ``serving`` extra (``transformers[serving]``) is not installed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from llm_annotate import AnnotateConfig, Annotator, OpenAICompatibleBackend, prepare_items
from llm_annotate.cli import main
from llm_annotate.store import read_jsonl

MISSING = [m for m in ("fastapi", "uvicorn", "openai") if importlib.util.find_spec(m) is None]
pytestmark = pytest.mark.skipif(
    bool(MISSING),
    reason=f"transformers[serving] is not installed (missing {MISSING}); "
    "install llm-annotate[serving] to run the real-server test",
)

SENTIMENT = {
    "name": "sentiment",
    "instruction": "Is the review positive or negative?",
    "input_fields": {"text": "Review"},
    "labels": {"positive": ["positive"], "negative": ["negative"]},
    "demonstrations": [
        {"text": "I loved every minute.", "label": "positive"},
        {"text": "A waste of money.", "label": "negative"},
    ],
}
ROWS = [{"id": f"r{i}", "text": t} for i, t in enumerate(["great fun", "dull", "fine", "meh"])]


def build_model(folder: Path) -> None:
    import torch
    from lmlab_common import english_sentences, tiny_causal_lm, train_tokenizer

    texts = list(english_sentences(200)) + ["the review is positive, not negative"] * 200
    tokenizer = train_tokenizer(texts, kind="bpe", vocab_size=400, wrap=None)
    tokenizer.chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    (target,) = tokenizer(" positive", add_special_tokens=False)["input_ids"]
    model = tiny_causal_lm(
        "gpt2", vocab_size=len(tokenizer), hidden_size=32, num_layers=2, num_heads=2,
        max_position_embeddings=1024, seed=0,
    )  # fmt: skip
    with torch.no_grad():  # logits = ln_f(h) @ wte.T = 4 * wte @ wte[target]: target wins
        wte = model.transformer.wte.weight
        wte[target] *= 3.0
        model.transformer.ln_f.weight.zero_()
        model.transformer.ln_f.bias.copy_(4.0 * wte[target])
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(base_url, model name) of ``transformers serve`` on a free port, the tiny model loaded."""
    from lmlab_common.testing import free_port

    folder = tmp_path_factory.mktemp("tiny-gpt2")
    build_model(folder)
    port = free_port()
    script = Path(sys.executable).parent / "transformers"
    cmd = [str(script), "serve", str(folder), "--host", "127.0.0.1", "--port", str(port),
           "--device", "cpu"]  # fmt: skip
    log = open(folder / "serve.log", "w")  # noqa: SIM115 - closed at teardown
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)  # fmt: skip
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 300  # imports are slow on a loaded 2-core machine
        while True:
            assert proc.poll() is None, (folder / "serve.log").read_text()[-2000:]
            try:
                with urllib.request.urlopen(f"{base_url}/models", timeout=5) as response:
                    json.load(response)
                break
            except OSError:
                assert time.monotonic() < deadline, "transformers serve did not come up"
                time.sleep(1.0)
        yield base_url, str(folder)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.mark.parametrize("mode", ["zero_shot", "cot", "self_consistency"])
def test_every_mode_end_to_end(served, tmp_path, mode):
    from llm_annotate import task_from_dict

    base_url, model = served
    task = task_from_dict(SENTIMENT)
    backend = OpenAICompatibleBackend(base_url, model, timeout=120, max_retries=2, concurrency=2)
    backend.check()
    config = AnnotateConfig(
        mode=mode, max_tokens=3, cot_max_tokens=6, explain_max_tokens=6, k=2, parse_retries=1
    )
    annotator = Annotator(task, backend, config, tmp_path / "cache.sqlite")
    summary = annotator.run(prepare_items(ROWS, task), tmp_path / "out.jsonl", progress=False)
    records = read_jsonl(tmp_path / "out.jsonl")
    assert len(records) == len(ROWS) and summary.problem is None
    assert all(r["status"] == "ok" and r["label"] == "positive" for r in records), records
    if mode != "zero_shot":  # explanations came from the server, once per demonstration
        assert all(d.explanation and "positive" in d.explanation for d in annotator.demonstrations)
    if mode == "self_consistency":  # the server ignores n: the client asked again for the rest
        assert all(sum(r["votes"].values()) == 2 for r in records)
    backend.close()


def test_every_item_unparseable_is_loud_and_nonzero(served, tmp_path, capsys):
    base_url, model = served
    task = tmp_path / "task.yaml"
    task.write_text(
        "name: spam\ninstruction: Is the message spam?\ninput_fields: {text: Message}\n"
        "labels: [yes, no]\n"
    )
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    code = main(["run", "--task", str(task), "--data", str(data), "--out",
                 str(tmp_path / "out.jsonl"), "--mode", "zero_shot", "--base-url", base_url,
                 "--model", model, "--parse-retries", "0"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert f"every item was unparseable ({len(ROWS)} of {len(ROWS)})" in err
    assert "positive" in err  # the raw answer is shown
