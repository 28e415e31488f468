"""The code-infill app: quick run (report complete, every fill sandboxed, reload identical),
resume after a kill, judging by execution, bad input, and public-API-only imports."""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from code_exec import Sandbox

SRC = Path(__file__).resolve().parents[2] / "apps" / "code-infill" / "src" / "code_infill"
PROGRAM = "a = 3\nb = a * 2\nfor i in range(2):\n    b += i\nprint(b)\n"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """The --quick run, with every program sent to the sandbox recorded."""
    from code_infill import quick_options, run

    sent: list[str] = []
    real_map = Sandbox.map

    def spy(self, sources, *args, **kwargs):
        sent.extend(sources)
        return real_map(self, sources, *args, **kwargs)

    out = tmp_path_factory.mktemp("ci") / "out"
    options = quick_options(out_dir=str(out))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Sandbox, "map", spy)
        data = run(options)
    return options, data, sent


def _records(out: Path, method: str) -> list[dict]:
    rows = []
    for path in sorted((out / "infills" / method).glob("batch-*.jsonl")):
        rows += [json.loads(line) for line in path.read_text().splitlines()]
    return rows


@pytest.mark.claim
def test_quick_run_report_sandbox_and_reload(quick_run):
    from bidir_lm import BidirectionalLM
    from code_infill.infilling import fill
    from code_infill.judging import OUTCOMES
    from code_infill.options import LABELS
    from code_infill.pipeline import data_stage
    from transformers import AutoTokenizer

    options, data, sent = quick_run
    out = Path(options.out_dir)
    for name in ("report.md", "report.json", "infill.png", "options.json"):
        assert (out / name).stat().st_size > 0, name
    assert data["finished"] and data["reused_infills"] == 0
    _, tasks, _ = data_stage(options)
    assert len(tasks) >= 25
    markdown = (out / "report.md").read_text()
    for method in options.methods:
        s = data["summary"][method]
        assert s["n"] == len(tasks), method
        assert sum(s["outcomes"][o] for o in OUTCOMES) == s["n"]
        assert s["sandboxed"] == s["n"]
        for key in ("exact_match", "execution_match", "runs_without_error", "met"):
            assert 0.0 <= s[key] <= 100.0
        assert s["latency_ms"] > 0
        assert f"| {LABELS[method]} | {len(tasks)} |" in markdown
        assert data["training"][method]["reload_max_abs_diff"] == 0.0
        records = _records(out, method)
        assert len(records) == len(tasks)
        # Every filled program went through the sandbox (and the sandbox timed it).
        assert all(r["filled_program"] in sent for r in records)
        assert all(r["sandbox_seconds"] > 0 for r in records)
        # No fill is shorter than asked (every task removes at least one line).
        assert options.min_new_tokens == 1
        assert all(r["middle_tokens"] >= options.min_new_tokens for r in records), method
    assert {o["claim"] for o in data["orderings"]} == {"MIM > L2R", "MIM > FIM", "FIM > L2R"}
    assert "## Examples" in markdown and "```python" in markdown
    # Mechanics that must hold at this budget: models trained (loss fell) and MIM meets.
    for method in options.methods:
        assert data["training"][method]["final_log"]["ce_forward"] < 3.0, method
    assert data["summary"]["mim"]["met"] > 50.0

    # Saved models reload from disk and give the same fills as the run recorded.
    tokenizer = AutoTokenizer.from_pretrained(out / "tokenizer")
    batch = tasks[: options.infill_batch_size]
    for method in options.methods:
        model = BidirectionalLM.from_pretrained(out / "models" / method).eval()
        fills, _ = fill(
            model, tokenizer, batch, method, options.max_new_tokens, options.min_new_tokens
        )
        recorded = [r["middle"] for r in _records(out, method)[: len(batch)]]
        assert [f["middle"] for f in fills] == recorded, method


def test_rerun_reuses_everything(quick_run, monkeypatch):
    import code_infill.infilling
    import code_infill.training
    from code_infill import run

    options, first, _ = quick_run

    def forbidden(*args, **kwargs):
        raise AssertionError("a finished stage ran again")

    monkeypatch.setattr(code_infill.infilling, "infill_ids", forbidden)
    monkeypatch.setattr(code_infill.training, "MIMTrainer", forbidden)
    again = run(options)
    assert again["reused_infills"] == sum(s["n"] for s in first["summary"].values())
    assert again["summary"] == first["summary"]
    with pytest.raises(ValueError, match=r"steps: run has 100, asked 7"):
        run(options.replace(steps=7))


def test_killed_run_resumes_without_redoing_infills(tmp_path):
    out = tmp_path / "run"
    args = [sys.executable, "-m", "code_infill", "run", "--quick", "--out", str(out),
            "--steps", "6", "--train-programs", "30", "--eval-programs", "14",
            "--infill-batch-size", "2", "--hidden-size", "16", "--num-layers", "1",
            "--num-heads", "1", "--max-new-tokens", "12"]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    first_batch = out / "infills" / "mim" / "batch-00000.jsonl"
    proc = subprocess.Popen(args, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 240
    while not first_batch.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert first_batch.exists(), "the run did not reach its first infill batch"
    assert not json.loads((out / "report.json").read_text())["finished"]
    done = {p: p.stat().st_mtime_ns for p in (out / "infills").rglob("batch-*.jsonl")}
    trained = (out / "models" / "l2r" / "train_stats.json").stat().st_mtime_ns
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "resuming run" in result.stderr and "reusing" in result.stderr
    assert f"reused {len(done) * 2} finished infills" in result.stderr
    assert all(p.stat().st_mtime_ns == t for p, t in done.items())  # not re-run
    assert (out / "models" / "l2r" / "train_stats.json").stat().st_mtime_ns == trained
    report = json.loads((out / "report.json").read_text())
    assert report["finished"]
    n = report["data"]["heldout_tasks"]
    assert all(report["summary"][m]["n"] == n for m in ("l2r", "fim", "mim"))


def test_judge_runs_fills_in_the_sandbox_and_classifies():
    from code_infill import judge, make_task

    task = make_task(PROGRAM, 1, 1)  # removes "b = a * 2\n"
    fills = {
        "b = a * 2\n": "match",
        "b = a + a\n": "match",  # different text, same behaviour
        "b = a * 3\n": "wrong_output",
        "b = a *\n": "syntax_error",
        "b = q * 2\n": "runtime_error",
        "b = 0\nwhile True:\n    b = b\n": "timeout",
        "import os\nos._exit(3)\n": "runtime_error",  # would end pytest if run here
    }
    with Sandbox(pool_size=2) as box:
        task.set_reference(box.run(task.code))
        verdicts = judge(box, [task] * len(fills), list(fills))
    assert task.ref_stdout == "7\n" and task.ref_state["b"] == "7"
    assert [v.outcome for v in verdicts] == list(fills.values())
    assert [v.exact_match for v in verdicts] == [True] + [False] * 6
    assert verdicts[1].execution_match and not verdicts[1].exact_match
    assert verdicts[-1].error.startswith("SystemExit") and verdicts[-1].sandbox_seconds > 0


def test_codetok_cuts_at_line_boundaries():
    from code_infill import make_task
    from code_infill.codetok import decode_code, encode_code, train_code_tokenizer

    tokenizer = train_code_tokenizer([PROGRAM] * 5, vocab_size=300)
    task = make_task(PROGRAM, 2, 2)
    whole, prefix, middle, suffix = encode_code(
        tokenizer, [PROGRAM, task.prefix, task.middle, task.suffix]
    )
    assert prefix + middle + suffix == whole
    assert decode_code(tokenizer, whole) == PROGRAM
    assert decode_code(tokenizer, middle) == "for i in range(2):\n    b += i\n"


def test_bad_input_errors():
    from code_infill import InfillOptions, make_task

    with pytest.raises(ValueError, match=r"is longer than the program \(5 lines\)"):
        make_task(PROGRAM, 3, 4)
    with pytest.raises(ValueError, match=r"program does not parse: SyntaxError at line 2"):
        make_task("x = 1\nif x >\n    y = 2\n", 1, 1)
    with pytest.raises(ValueError, match=r"methods='xyz' is invalid; allowed: one of 'l2r'"):
        InfillOptions(methods="mim,xyz")
    with pytest.raises(ValueError, match=r"max_span_lines=0 is invalid"):
        InfillOptions(max_span_lines=0)
    with pytest.raises(ValueError, match=r"min_new_tokens=41 is invalid; allowed: at most"):
        InfillOptions(min_new_tokens=41)


def test_cli_errors_and_help(tmp_path, capsys):
    from code_infill.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert main(["run", "--out", str(tmp_path / "o"), "--methods", "l2r,beam"]) == 2
    assert (
        "methods='beam' is invalid; allowed: one of 'l2r', 'fim', 'mim'" in capsys.readouterr().err
    )
    bad = tmp_path / "bad.py"
    bad.write_text("def f(:\n    return 1\nprint(2)\n")
    good = tmp_path / "good.py"
    good.write_text(PROGRAM)
    base = ["fill", "--run", str(tmp_path / "none"), "--program"]
    assert main([*base, str(bad), "--line", "2"]) == 2
    assert "program does not parse" in capsys.readouterr().err
    assert main([*base, str(good), "--line", "4", "--num-lines", "3"]) == 2
    err = capsys.readouterr().err
    assert "is longer than the program" in err and "(5 lines)" in err
    assert main([*base, str(good), "--line", "2", "--method", "beam"]) == 2
    assert "method='beam' is invalid" in capsys.readouterr().err
    assert main([*base, str(good), "--line", "2"]) == 2
    assert "model=" in capsys.readouterr().err  # no trained run there
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.txt").write_text("mine")
    assert main(["run", "--out", str(tmp_path / "other"), "--quick"]) == 2
    assert "holds no code-infill run" in capsys.readouterr().err


def test_cli_fill_with_a_trained_run(quick_run, tmp_path, capsys):
    from code_infill.cli import main

    options, _, _ = quick_run
    prog = tmp_path / "prog.py"
    prog.write_text(PROGRAM)
    code = main(["fill", "--run", options.out_dir, "--program", str(prog), "--line", "2",
                 "--method", "mim"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "removed (mim):\nb = a * 2\n" in out and "sandbox status:" in out


def test_decode_ablation_mim_model_decoded_left_to_right(quick_run, tmp_path):
    from code_infill import InfillOptions, decode_ablation

    options, data, _ = quick_run
    result = decode_ablation(options.out_dir)
    n = data["summary"]["mim"]["n"]
    arms = result["summary"]
    assert set(arms) == {
        "l2r_model_l2r_decoding",
        "mim_model_l2r_decoding",
        "mim_model_mim_decoding",
    }
    assert all(a["n"] == n and a["sandboxed"] == n for a in arms.values())
    # The run's own arms are taken from its records, unchanged.
    for arm, method in (("mim_model_mim_decoding", "mim"), ("l2r_model_l2r_decoding", "l2r")):
        assert arms[arm]["execution_match"] == data["summary"][method]["execution_match"]
    for pair in result["pairs"].values():
        assert pair["wins"] + pair["losses"] <= n and 0.0 <= pair["p_value"] <= 1.0
    out = Path(options.out_dir)
    assert (out / "ablation.md").read_text().startswith("# code-infill: MIM's training")
    rows = (out / "ablation" / "mim_model_l2r_decoding.jsonl").read_text().splitlines()
    assert len(rows) == n
    assert all(json.loads(r)["middle_tokens"] >= options.min_new_tokens for r in rows)
    only_l2r = tmp_path / "l2r-only"
    InfillOptions(out_dir=str(only_l2r), methods="l2r").save_pretrained(only_l2r)
    with pytest.raises(ValueError, match=r"lacks mim; allowed: a run with both l2r and mim"):
        decode_ablation(str(only_l2r))


def test_only_public_names_of_the_packages_are_imported():
    import bidir_lm
    import code_exec

    public = {"bidir_lm": set(bidir_lm.__all__), "code_exec": set(code_exec.__all__)}
    seen = set()
    for path in SRC.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    root = alias.name.split(".")[0]
                    assert root not in public or alias.name == root, (path.name, alias.name)
            elif isinstance(node, ast.ImportFrom) and node.module:
                root = node.module.split(".")[0]
                if root in public:
                    assert node.module == root, (path.name, node.module)
                    for alias in node.names:
                        assert alias.name in public[root], (path.name, root, alias.name)
                        seen.add(root)
    assert seen == {"bidir_lm", "code_exec"}


def test_readme_example_runs(capsys):
    readme = (SRC.parents[1] / "README.md").read_text()
    block = readme.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(block, "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert (
        "(True, True, 'match'), (False, True, 'match'), (False, False, 'syntax_error')" in printed
    )
