"""The CI claim of this package is the mechanics: a long run against a hostile endpoint ends
with every item labelled or failed with its reason, and a SIGKILLed run resumes with exactly
one record per item and no repeated paid calls. (AnnoLLM's accuracy claim needs a capable
LLM; see README and ``llm-annotate reproduce``.)"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from llm_annotate import AnnotateConfig, Annotator, OpenAICompatibleBackend, prepare_items
from llm_annotate.fake_server import FakeOpenAIServer, Faults
from llm_annotate.store import read_jsonl

pytestmark = pytest.mark.claim

N_ITEMS = 300
WORDS = ["great", "awful", "fine", "bad", "lovely", "broken", "superb", "poor"]


def make_rows(n=N_ITEMS):
    rows = []
    for i in range(n):
        word = WORDS[i % len(WORDS)]
        label = "negative" if word in ("awful", "bad", "broken", "poor") else "positive"
        rows.append({"id": f"r{i:04d}", "text": f"Item {i} was {word}.", "label": label})
    return rows


def responder(prompt):
    """An oracle annotator for make_rows(): explains demos, answers CoT/plain prompts."""
    if "Briefly explain why" in prompt:
        return "The wording gives the sentiment away."
    last = prompt.rsplit("Review:", 1)[-1]
    negative = any(w in last for w in ("awful", "bad", "broken", "poor", "waste"))
    label = "negative" if negative else "positive"
    if prompt.endswith("Explanation:"):
        return f"The review uses a {label} word.\nSo the answer is: {label}"
    return f" {label}"


HOSTILE = Faults(
    rate_429=0.10,
    retry_after=0.05,
    rate_500=0.08,
    rate_timeout=0.02,
    hang=0.8,
    rate_malformed=0.05,
    rate_truncated=0.04,
    rate_empty=0.04,
    always_fail=0.03,
    seed=1,
)


def test_reliability_against_hostile_server(task, tmp_path):
    items = prepare_items(make_rows(), task)
    with FakeOpenAIServer(responder, HOSTILE, latency=0.005) as server:
        backend = OpenAICompatibleBackend(
            server.base_url, "fake", timeout=0.4, max_retries=4, backoff_base=0.02,
            max_backoff=0.5, concurrency=8,
        )  # fmt: skip
        cache = tmp_path / "cache.sqlite"
        annotator = Annotator(task, backend, AnnotateConfig(mode="cot"), cache)
        summary = annotator.run(items, tmp_path / "out.jsonl")
        records = read_jsonl(tmp_path / "out.jsonl")
        by_id = {r["id"]: r for r in records}
        status = {
            s: sum(r["status"] == s for r in records) for s in ("ok", "unparseable", "failed")
        }
        print(f"\nreliability: {status}, outcomes {dict(server.outcomes)}, {summary.seconds:.2f}s")

        # every item exactly once, labelled or recorded with its reason
        assert len(records) == N_ITEMS and set(by_id) == {i["__id"] for i in items}
        assert sum(status.values()) == N_ITEMS
        assert all(r["label"] == r["gold"] for r in records if r["status"] == "ok")
        for r in records:
            if r["status"] != "ok":
                assert r["label"] is None and r["reason"]
        # empty and truncated 200 answers were injected, and none became a final record:
        # an answer without a label is asked again within the run, never cached as final
        assert server.outcomes["empty"] > 0 and server.outcomes["truncated"] > 0
        assert status["unparseable"] == 0
        failed = [r for r in records if r["status"] == "failed"]
        assert failed and all("gave up after 5 attempts" in r["reason"] for r in failed)
        # every fault kind was actually injected (the concurrency bound is tested on its own,
        # without timeouts, in test_openai_backend.py: here abandoned requests blur it)
        assert all(server.outcomes[k] > 0 for k in ("429", "500", "timeout", "malformed"))
        assert status["ok"] >= 0.75 * N_ITEMS

        # a rerun into a new file pays nothing again: only never-answered prompts are retried
        before = sum(server.attempts.values())
        rerun = Annotator(task, backend, AnnotateConfig(mode="cot"), cache)
        again = rerun.run(items, tmp_path / "again.jsonl")
        assert again.calls == len(failed) + status["unparseable"]
        retried = sum(server.attempts.values()) - before
        assert len(failed) <= retried <= 5 * len(failed)
        backend.close()


def write_job(tmp_path, task):
    task_path = tmp_path / "task.yaml"
    task_path.write_text(yaml.safe_dump(task.to_dict(), sort_keys=False))
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in make_rows()))
    return task_path, data


def test_sigkill_then_resume(task, tmp_path):
    task_path, data = write_job(tmp_path, task)
    out = tmp_path / "out.jsonl"
    faults = Faults(rate_429=0.05, retry_after=0.02, seed=2)
    with FakeOpenAIServer(responder, faults, latency=0.03) as server:
        cmd = [
            sys.executable, "-m", "llm_annotate", "run", "--task", str(task_path),
            "--data", str(data), "--out", str(out), "--mode", "cot",
            "--base-url", server.base_url, "--model", "fake", "--concurrency", "8",
        ]  # fmt: skip
        env = {**os.environ, "LMLAB_QUIET": "1"}
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists() and out.read_bytes().count(b"\n") >= N_ITEMS // 3:
                break
            time.sleep(0.005)
        assert proc.poll() is None, "the run finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        done_before = {r["id"] for r in read_jsonl(out)}
        attempts_at_kill = dict(server.attempts)
        paid_at_kill = sum(server.paid.values())
        assert N_ITEMS // 3 <= len(done_before) < N_ITEMS

        result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)

    records = read_jsonl(out)
    ids = [r["id"] for r in records]
    assert len(ids) == N_ITEMS and len(set(ids)) == N_ITEMS  # exactly one record per item
    assert summary["skipped"] == len(done_before)
    assert all(r["label"] == r["gold"] for r in records)
    # no new request at all for prompts whose items were complete (explanations included)
    annotator = Annotator(task, None, AnnotateConfig(mode="cot"))  # prompt builder only
    annotator.load_explanations(str(out) + ".explanations.json")
    rows = {i["__id"]: i for i in prepare_items(make_rows(), task)}
    for rid in done_before:
        prompt = annotator.prompt_for(rows[rid])
        assert server.attempts[prompt] == attempts_at_kill[prompt]
    for prompt, count in attempts_at_kill.items():
        if "Briefly explain why" in prompt:
            assert server.attempts[prompt] == count
    # across both runs, paid answers exceed one per prompt only for requests in flight at the kill
    paid = sum(server.paid.values())
    n_prompts = N_ITEMS + len(task.demonstrations)
    print(f"\nsigkill: {len(done_before)} done at kill, paid {paid_at_kill} then {paid}")
    assert n_prompts <= paid <= n_prompts + 2 * 8
