import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from llm_annotate.cli import main
from llm_annotate.fake_server import FakeOpenAIServer
from llm_annotate.reproduce import bundled_data_path, bundled_task_path
from llm_annotate.store import read_jsonl

README = Path(__file__).parents[2] / "packages" / "llm-annotate" / "README.md"


@pytest.fixture
def server(oracle):
    with FakeOpenAIServer(oracle) as srv:
        yield srv


def backend_args(server):
    return ["--base-url", server.base_url, "--model", "fake", "--concurrency", "4"]


def test_help_via_module_and_console_script():
    out = subprocess.run(
        [sys.executable, "-m", "llm_annotate", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0
    for verb in ("explain", "run", "eval", "reproduce"):
        assert verb in out.stdout
    script = Path(sys.executable).parent / "llm-annotate"
    out = subprocess.run([str(script), "run", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--shard" in out.stdout and "--dry-run" in out.stdout


def test_dry_run_spends_nothing(server, tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    code = main(
        ["run", "--task", bundled_task_path(), "--data", bundled_data_path(), "--out", str(out),
         "--mode", "cot", "--dry-run", *backend_args(server)]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    plan = json.loads(printed.split("--- plan ---")[1])
    assert plan["items"] == 48 and plan["uncached_calls"] == 48 + 6
    assert plan["estimated_prompt_tokens"] > 0
    assert "Query: best laptop for video editing" in printed
    assert sum(server.attempts.values()) == 0 and not out.exists()


def test_explain_run_eval_and_shards(server, tmp_path, capsys):
    exp = tmp_path / "exp.json"
    assert (
        main(["explain", "--task", bundled_task_path(), "--out", str(exp), *backend_args(server)])
        == 0
    )
    saved = json.loads(exp.read_text())
    assert len(saved["demonstrations"]) == 6 and all(
        d["explanation"] for d in saved["demonstrations"]
    )
    outs = []
    for shard in ("0/2", "1/2"):
        out = tmp_path / f"cot-{shard[0]}.jsonl"
        outs.append(out)
        code = main(
            ["run", "--task", bundled_task_path(), "--data", bundled_data_path(), "--out", str(out),
             "--mode", "cot", "--explanations", str(exp), "--shard", shard, *backend_args(server)]
        )  # fmt: skip
        assert code == 0
    ids = [r["id"] for out in outs for r in read_jsonl(out)]
    assert len(ids) == 48 and len(set(ids)) == 48
    explain_prompts = [p for p in server.attempts if "Briefly explain" in p]
    assert len(explain_prompts) == 6 and all(server.attempts[p] == 1 for p in explain_prompts)
    few = tmp_path / "few.jsonl"
    assert main(["run", "--task", bundled_task_path(), "--data", bundled_data_path(),
                 "--out", str(few), "--mode", "few_shot", *backend_args(server)]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["eval", "--pred", str(outs[0]), str(few)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report[str(outs[0])]["accuracy"] == 1.0 and report[str(few)]["n"] == 48
    (pair,) = report["agreement"].values()
    assert pair["n"] == 24 and pair["agreement"] == 1.0


def test_unreachable_endpoint_fails_before_any_item(tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    code = main(
        ["run", "--task", bundled_task_path(), "--data", bundled_data_path(), "--out", str(out),
         "--mode", "zero_shot", "--base-url", "http://127.0.0.1:9/v1", "--model", "m"]
    )  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "cannot reach endpoint http://127.0.0.1:9/v1" in err
    assert not out.exists()


def test_bad_task_file_exit_code(tmp_path, capsys):
    bad = tmp_path / "t.yaml"
    bad.write_text("name: x\ninstruction: y\ninput_fields: [a]\nlabels: [p, p]\n")
    code = main(["run", "--task", str(bad), "--data", "d.jsonl", "--out", "o.jsonl",
                 "--base-url", "http://127.0.0.1:9/v1", "--model", "m"])  # fmt: skip
    assert code == 2 and "duplicates" in capsys.readouterr().err


def test_reproduce_without_endpoint_says_what_it_needs(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("LLM_ANNOTATE_MODEL", raising=False)
    assert main(["reproduce", "--out", str(tmp_path)]) == 0  # `make reproduce` goes on
    assert "skipped" in capsys.readouterr().err
    assert not (tmp_path / "llm-annotate.json").exists()


def test_reproduce_writes_reports_and_reuses_cache(server, tmp_path, capsys):
    args = ["reproduce", "--out", str(tmp_path), "--seeds", "1", "--limit", "8",
            *backend_args(server)]  # fmt: skip
    assert main(args) == 0
    report = json.loads((tmp_path / "llm-annotate.json").read_text())
    assert set(report["results"]) == {"zero_shot", "few_shot", "cot"}
    for mode, per_template in report["results"].items():
        assert set(per_template) == {"default", "paraphrase-1", "paraphrase-2"}
        # the fake endpoint answers with the gold label, so every mode/template scores 1.0
        assert all(v["accuracy"] == 1.0 and v["coverage"] == 1.0 for v in per_template.values())
        assert report["template_stability"][mode]["std_accuracy"] == 0.0
    assert "| cot |" in (tmp_path / "llm-annotate.md").read_text()
    requests = sum(server.attempts.values())
    assert requests == 3 * (3 * 8 + 6)  # 3 templates x (3 modes x 8 items + 6 explanations)
    assert main(args) == 0
    assert sum(server.attempts.values()) == requests  # a rerun is free


def test_reproduce_cache_flag_is_used_across_output_folders(server, tmp_path):
    cache = tmp_path / "shared.sqlite"
    base = ["reproduce", "--seeds", "1", "--limit", "4", "--cache", str(cache),
            *backend_args(server)]  # fmt: skip
    assert main([*base, "--out", str(tmp_path / "a")]) == 0
    assert cache.exists()  # --cache was ignored before: the cache went under --out
    assert not (tmp_path / "a" / "llm-annotate" / "cache.sqlite").exists()
    requests = sum(server.attempts.values())
    assert requests > 0
    assert main([*base, "--out", str(tmp_path / "b")]) == 0  # a new folder, same cache
    assert sum(server.attempts.values()) == requests
    report = json.loads((tmp_path / "b" / "llm-annotate.json").read_text())
    calls = [s["calls_this_run"] for t in report["results"].values() for a in t.values()
             for s in a["seeds"]]  # fmt: skip
    assert calls and not any(calls)


def test_readme_example_runs(server, tmp_path, monkeypatch):
    text = README.read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    assert "http://localhost:8000/v1" in code
    shutil.copy(bundled_task_path(), tmp_path / "task.yaml")
    shutil.copy(bundled_data_path(), tmp_path / "data.jsonl")
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(
        compile(code.replace("http://localhost:8000/v1", server.base_url), "README", "exec"),
        namespace,
    )
    records = read_jsonl(tmp_path / "labels.jsonl")
    assert len(records) == 48 and all(r["label"] == r["gold"] for r in records)
    assert os.path.exists(tmp_path / "labels.jsonl.explanations.json")


def test_http_path_does_not_import_torch():
    code = (
        "import sys, llm_annotate, llm_annotate.cli, llm_annotate.fake_server;"
        "print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.split() == ["False", "False"]


def test_eval_against_a_separate_gold_file(tmp_path, capsys):
    pred = tmp_path / "pred.jsonl"
    rows = [("qk-001", "relevant"), ("qk-002", "relevant"), ("qk-003", None)]
    pred.write_text(
        "".join(json.dumps({"id": i, "label": lab, "status": "ok"}) + "\n" for i, lab in rows)
    )
    args = ["eval", "--pred", str(pred), "--gold", bundled_data_path(), "--task"]
    assert main([*args, bundled_task_path()]) == 0
    report = json.loads(capsys.readouterr().out)[str(pred)]
    # gold: qk-001 relevant, qk-002 irrelevant, qk-003 relevant -> 1 of 3 right
    assert report["accuracy"] == pytest.approx(1 / 3)
    assert report["confusion"]["irrelevant"] == {"relevant": 1}
    assert report["coverage"] == pytest.approx(2 / 3)
