"""The defects and rough edges of issue 17, each against the package's fake server.

Every test here failed on the code before the fix (checked by running this file against the
previous commit's package)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
from llm_annotate.cli import main
from llm_annotate.fake_server import FakeOpenAIServer, Faults
from llm_annotate.store import read_jsonl

YES_NO_TASK = """\
name: spam
instruction: Is the message spam?
input_fields: {text: Message}
labels: [yes, no]
demonstrations:
  - {text: "WIN A FREE CRUISE NOW", label: yes}
  - {text: "See you at lunch", label: no}
"""

SENTIMENT_TASK = """\
name: sentiment
instruction: Is the review positive or negative?
input_fields: {text: Review}
labels: [positive, negative]
demonstrations:
  - {text: "Loved it.", label: positive}
  - {text: "Awful.", label: negative}
"""


def last_item(prompt: str) -> str:
    """The text of the item being asked about (the last input field line of the prompt)."""
    tail = prompt.rsplit("Message:" if "Message:" in prompt else "Review:", 1)[-1]
    return tail.split("\n", 1)[0].strip()


def sentiment_answer(prompt: str) -> str:
    if "Briefly explain why" in prompt:
        return "The wording says so."
    label = "negative" if "bad" in last_item(prompt) else "positive"
    if prompt.endswith("Explanation:"):
        return f"Clear wording.\nSo the answer is: {label}"
    return f" {label}"


def write(tmp_path, task_text, rows, name="data.jsonl"):
    (tmp_path / "task.yaml").write_text(task_text)
    data = tmp_path / name
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(tmp_path / "task.yaml"), str(data)


def run_args(task, data, out, server, *extra):
    return ["run", "--task", task, "--data", data, "--out", str(out), "--base-url",
            server.base_url, "--model", "fake", "--concurrency", "4", *extra]  # fmt: skip


def review_rows(n, bad_every=2):
    return [
        {"id": f"r{i:03d}", "text": f"item {i} was {'bad' if i % bad_every else 'good'}"}
        for i in range(n)
    ]


# -- 1. YAML booleans, and loud outcomes ----------------------------------------------------


def test_yaml_yes_no_labels_stay_the_strings_written(tmp_path, capsys):
    pairs = [("FREE MONEY CLICK", "yes"), ("meeting moved to 3pm", "no")] * 5
    rows = [{"id": str(i), "text": t, "label": g} for i, (t, g) in enumerate(pairs)]

    def respond(prompt):
        return " yes" if last_item(prompt).isupper() else " no"

    task, data = write(tmp_path, YES_NO_TASK, rows)
    with FakeOpenAIServer(respond) as server:
        code = main(run_args(task, data, tmp_path / "out.jsonl", server, "--mode", "few_shot"))
    assert code == 0, capsys.readouterr().err
    records = read_jsonl(tmp_path / "out.jsonl")
    assert len(records) == 10 and all(r["label"] == r["gold"] for r in records)
    assert {r["label"] for r in records} == {"yes", "no"}
    assert all("Possible answers: yes, no." in p for p in server.attempts)
    assert all("Answer: yes" in p and "Answer: no" in p for p in server.attempts)


@pytest.mark.parametrize(
    ("answer_bad", "answer_good", "expected"),
    [
        (" maybe", " perhaps", "every item was unparseable (10 of 10)"),
        (" maybe", " positive", "only 3 of 10 items got a label"),
    ],
)
def test_mostly_unparseable_run_is_loud_and_nonzero(
    tmp_path, capsys, answer_bad, answer_good, expected
):
    rows = [{"id": str(i), "text": f"item {i} was {'bad' if i < 7 else 'good'}"} for i in range(10)]
    task, data = write(tmp_path, SENTIMENT_TASK, rows)
    with FakeOpenAIServer(lambda p: answer_bad if "bad" in last_item(p) else answer_good) as srv:
        code = main(run_args(task, data, tmp_path / "out.jsonl", srv, "--mode", "zero_shot"))
    err = capsys.readouterr().err
    assert code == 1, err
    assert expected in err and "raw answer ' maybe'" in err
    assert len(read_jsonl(tmp_path / "out.jsonl")) == 10  # what finished is kept


def test_every_item_failed_is_loud_and_nonzero(tmp_path, capsys):
    task, data = write(tmp_path, SENTIMENT_TASK, review_rows(6))
    with FakeOpenAIServer(sentiment_answer, Faults(always_fail=1.0)) as server:
        args = run_args(task, data, tmp_path / "out.jsonl", server, "--mode", "zero_shot")
        code = main([*args, "--max-retries", "0"])
    assert code == 1
    assert "every item failed (6 of 6)" in capsys.readouterr().err


# -- 2. two runs, one output ------------------------------------------------------------------


def test_second_run_on_the_same_output_refuses_naming_the_holder(tmp_path, capsys):
    task, data = write(tmp_path, SENTIMENT_TASK, review_rows(24))
    out = tmp_path / "out.jsonl"
    with FakeOpenAIServer(sentiment_answer, latency=0.1) as server:
        cmd = [sys.executable, "-m", "llm_annotate",
               *run_args(task, data, out, server, "--mode", "zero_shot")]  # fmt: skip
        first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while not (out.exists() and out.read_bytes().count(b"\n") >= 2):
            assert time.monotonic() < deadline and first.poll() is None, first.communicate()
            time.sleep(0.01)
        code = main(run_args(task, data, out, server, "--mode", "zero_shot"))
        err = capsys.readouterr().err
        assert code == 2
        assert f"pid {first.pid} on host {socket.gethostname()}" in err
        assert len(err.strip().splitlines()) == 1
        assert first.wait(timeout=60) == 0
        paid = Counter(server.paid)
    ids = [r["id"] for r in read_jsonl(out)]
    assert sorted(ids) == sorted(r["id"] for r in review_rows(24))  # one record per item
    assert set(paid.values()) == {1}  # no prompt paid twice
    # the lock dies with its holder: the next run on the output is free to go
    with FakeOpenAIServer(sentiment_answer) as server:
        assert main(run_args(task, data, out, server, "--mode", "zero_shot")) == 0


# -- 3. empty answers are not final ---------------------------------------------------------


def test_empty_answer_is_asked_again_never_cached(tmp_path):
    seen = Counter()
    lock = threading.Lock()

    def respond(prompt):
        with lock:
            seen[prompt] += 1
            first = seen[prompt] == 1
        return "" if first else sentiment_answer(prompt)

    task, data = write(tmp_path, SENTIMENT_TASK, review_rows(8))
    with FakeOpenAIServer(respond) as server:
        assert main(run_args(task, data, tmp_path / "a.jsonl", server, "--mode", "zero_shot")) == 0
        records = read_jsonl(tmp_path / "a.jsonl")
        assert all(r["status"] == "ok" for r in records)
        assert set(server.attempts.values()) == {2}  # empty once, then asked again
        # a new output with the same cache replays the good answers: no call at all
        assert main(run_args(task, data, tmp_path / "b.jsonl", server, "--mode", "zero_shot")) == 0
        assert set(server.attempts.values()) == {2}


def test_retry_failed_really_calls_again_for_unparseable(tmp_path, capsys):
    answers = {"mode": "empty"}

    def respond(prompt):
        return "" if answers["mode"] == "empty" else sentiment_answer(prompt)

    task, data = write(tmp_path, SENTIMENT_TASK, review_rows(4))
    out = tmp_path / "out.jsonl"
    with FakeOpenAIServer(respond) as server:
        args = run_args(task, data, out, server, "--mode", "zero_shot")
        assert main(args) == 1  # every item unparseable: loud
        assert all(r["status"] == "unparseable" for r in read_jsonl(out))
        asked = sum(server.attempts.values())
        assert asked == 4 * 3  # 1 + parse_retries (2) per item, within the run
        answers["mode"] = "good"
        assert main(args) == 0 and sum(server.attempts.values()) == asked  # resume: all done
        assert main([*args, "--retry-failed"]) == 0
        assert sum(server.attempts.values()) == asked + 4  # really called again
    assert [r["status"] for r in read_jsonl(out)] == ["ok"] * 4


# -- 4. rough edges ---------------------------------------------------------------------------


def test_non_utf8_input_names_file_and_line(tmp_path, capsys):
    task, _ = write(tmp_path, SENTIMENT_TASK, [])
    data = tmp_path / "data.jsonl"
    data.write_bytes(b'{"text": "fine"}\n{"text": "caf\xe9"}\n')
    with FakeOpenAIServer(sentiment_answer) as server:
        code = main(run_args(task, str(data), tmp_path / "o.jsonl", server))
        assert sum(server.attempts.values()) == 0
    err = capsys.readouterr().err
    assert code == 2 and f"{data}: line 2: data is not valid UTF-8" in err
    assert len(err.strip().splitlines()) == 1


def test_corrupt_output_line_names_file_and_line(tmp_path, capsys):
    task, data = write(tmp_path, SENTIMENT_TASK, review_rows(3))
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "r000", "label": "positive", "status": "ok"}\n{oops\n')
    with FakeOpenAIServer(sentiment_answer) as server:
        code = main(run_args(task, data, out, server, "--mode", "zero_shot"))
        assert sum(server.attempts.values()) == 0
    err = capsys.readouterr().err
    assert code == 2 and f"{out}: line 2: corrupt record" in err
    assert main(["eval", "--pred", str(out)]) == 2
    assert f"{out}: line 2: corrupt record" in capsys.readouterr().err


def test_missing_labels_key_lists_the_required_fields(tmp_path, capsys):
    (tmp_path / "t.yaml").write_text("name: x\ninstruction: y\ninput_fields: [text]\n")
    code = main(["run", "--task", str(tmp_path / "t.yaml"), "--data", "d.jsonl", "--out", "o",
                 "--base-url", "http://127.0.0.1:9/v1", "--model", "m"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "['labels'] missing; required: ['name', 'instruction', 'input_fields', 'labels']" in err


def test_empty_input_exits_before_any_paid_call(tmp_path, capsys):
    task, data = write(tmp_path, SENTIMENT_TASK, [])
    with FakeOpenAIServer(sentiment_answer) as server:
        code = main(run_args(task, data, tmp_path / "o.jsonl", server, "--mode", "cot"))
        assert sum(server.attempts.values()) == 0  # no explanation was paid for either
    assert code == 2 and "holds no items" in capsys.readouterr().err


def test_eval_on_a_missing_file_says_file_not_found(tmp_path, capsys):
    assert main(["eval", "--pred", str(tmp_path / "nope.jsonl")]) == 2
    assert "nope.jsonl' does not exist" in capsys.readouterr().err


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_promptly_keeps_finished_work_one_line(tmp_path):
    rows = review_rows(40)
    fast = {r["text"] for r in rows[:6]}

    def respond(prompt):
        if last_item(prompt) not in fast:
            time.sleep(30)  # far longer than the test: only an interrupt ends these
        return sentiment_answer(prompt)

    task, data = write(tmp_path, SENTIMENT_TASK, rows)
    out = tmp_path / "out.jsonl"
    with FakeOpenAIServer(respond) as server:
        cmd = [
            sys.executable,
            "-m",
            "llm_annotate",
            *run_args(task, data, out, server, "--mode", "zero_shot", "--timeout", "60"),
        ]
        env = {**os.environ, "LMLAB_QUIET": "1"}
        # A shell starts background jobs with SIGINT ignored, and the child would inherit
        # that (Python keeps an ignored SIGINT ignored): give it the default, as a terminal does.
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, preexec_fn=_default_sigint)  # fmt: skip
        deadline = time.monotonic() + 60
        while not (out.exists() and out.read_bytes().count(b"\n") >= 6):
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
            time.sleep(0.01)
        time.sleep(0.3)  # the slow requests are in flight now
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=20)
        finally:
            proc.kill()  # no-op when it has exited; never leave a stuck run behind
        took = time.monotonic() - start
    print(f"\nctrl-c: exited {proc.returncode} after {took:.2f}s")
    assert proc.returncode == 130
    assert took < 5.0, f"Ctrl-C took {took:.1f}s"
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert sorted(r["id"] for r in read_jsonl(out)) == [r["id"] for r in rows[:6]]


def test_circuit_breaker_stops_a_dead_server_and_resumes(tmp_path, capsys):
    rows = review_rows(60)
    task, data = write(tmp_path, SENTIMENT_TASK, rows)
    out = tmp_path / "out.jsonl"
    with FakeOpenAIServer(sentiment_answer, Faults(always_fail=1.0)) as server:
        args = run_args(task, data, out, server, "--mode", "zero_shot", "--max-retries", "1")
        code = main([*args, "--max-consecutive-failures", "5"])
        err = capsys.readouterr().err
        assert code == 2 and "stopped after 5 consecutive items without a label" in err
        assert "rerun the same command to resume" in err
        requests = sum(server.attempts.values())
        print(f"\nbreaker: stopped after {requests} requests")
        assert requests <= 2 * (5 + 2 * 4)  # the streak, plus what was queued, 2 tries each
        server.faults = Faults()  # the server recovers
        assert main([*args, "--max-consecutive-failures", "5"]) == 0
    records = read_jsonl(out)
    assert sorted(r["id"] for r in records) == [r["id"] for r in rows]
    assert all(r["status"] == "ok" for r in records)
