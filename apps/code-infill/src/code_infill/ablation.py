"""Separate MIM's training from its decoding: decode the MIM model left-to-right.

Three arms on the same held-out tasks of a finished run, all judged in the sandbox: the L2R
model decoded left-to-right and the MIM model decoded by meeting in the middle (both taken
from the run), and the MIM model decoded left-to-right (filled here, the same token budget
and minimum). Paired on execution match: *decoding* = MIM decoding vs L2R decoding of the
MIM model; *training* = the MIM model vs the L2R model, both decoded left-to-right.
"""

from __future__ import annotations

import json
import os

from code_exec import Sandbox, SandboxConfig
from lmlab_common import atomic_write_json, atomic_write_text, markdown_table
from transformers import AutoTokenizer

from .data import InfillTask
from .infilling import fill, load_batch
from .judging import judge
from .options import InfillOptions
from .report import sign_test
from .training import load_trained

ARMS = (
    ("l2r_model_l2r_decoding", "L2R model, L2R decoding"),
    ("mim_model_l2r_decoding", "MIM model, L2R decoding"),
    ("mim_model_mim_decoding", "MIM model, MIM decoding"),
)
PAIRS = (
    ("decoding", "mim_model_mim_decoding", "mim_model_l2r_decoding"),
    ("training", "mim_model_l2r_decoding", "l2r_model_l2r_decoding"),
)


def _run_records(run_dir: str, method: str, batches: int) -> list[dict]:
    records: list[dict] = []
    for b in range(batches):
        part = load_batch(run_dir, method, b)
        if part is None:
            raise ValueError(
                f"run={run_dir!r} has no infills of method {method!r} batch {b}; allowed: a "
                "finished code-infill run (run it to the end first)"
            )
        records += part
    return records


def _paired(a: list[dict], b: list[dict]) -> dict:
    wins = sum(x["execution_match"] and not y["execution_match"] for x, y in zip(a, b, strict=True))
    losses = sum(
        y["execution_match"] and not x["execution_match"] for x, y in zip(a, b, strict=True)
    )
    return {
        "wins": wins,
        "losses": losses,
        "difference_pts": 100.0 * (wins - losses) / len(a),
        "p_value": sign_test(wins, losses),
    }


def decode_ablation(run_dir: str) -> dict:
    """Fill every held-out task of the finished run in ``run_dir`` with the MIM model decoded
    left-to-right, judge it, compare with the run's arms; write ``ablation.{json,md}``."""
    if not os.path.exists(os.path.join(run_dir, InfillOptions.config_name)):
        raise FileNotFoundError(f"run={run_dir!r} holds no code-infill run (no options.json)")
    options = InfillOptions.from_pretrained(run_dir).replace(out_dir=run_dir)
    missing = [m for m in ("l2r", "mim") if m not in options.methods]
    if missing:
        raise ValueError(
            f"methods={','.join(options.methods)!r} of run {run_dir!r} lacks "
            f"{', '.join(missing)}; allowed: a run with both l2r and mim"
        )
    with open(os.path.join(run_dir, "data", "heldout.jsonl"), encoding="utf-8") as fh:
        tasks = [InfillTask.from_dict(json.loads(line)) for line in fh if line.strip()]
    size = options.infill_batch_size
    batches = [tasks[i : i + size] for i in range(0, len(tasks), size)]
    arms = {
        "l2r_model_l2r_decoding": _run_records(run_dir, "l2r", len(batches)),
        "mim_model_mim_decoding": _run_records(run_dir, "mim", len(batches)),
    }
    model, _ = load_trained(run_dir, "mim")
    tokenizer = AutoTokenizer.from_pretrained(os.path.join(run_dir, "tokenizer"))
    new: list[dict] = []
    with Sandbox(SandboxConfig(timeout_s=options.timeout_s), pool_size=2) as box:
        for batch in batches:
            fills, _ = fill(
                model, tokenizer, batch, "l2r", options.max_new_tokens, options.min_new_tokens
            )
            verdicts = judge(box, batch, [f["middle"] for f in fills])
            new += [
                {"task_id": t.task_id, **f, **v.to_dict()}
                for t, f, v in zip(batch, fills, verdicts, strict=True)
            ]
    arms["mim_model_l2r_decoding"] = new
    ids = [t.task_id for t in tasks]
    for name, records in arms.items():
        if [r["task_id"] for r in records] != ids:
            raise ValueError(f"arm {name}: its records do not follow the held-out tasks' order")
    n = len(tasks)
    summary = {
        name: {
            "n": n,
            "exact_match": 100.0 * sum(r["exact_match"] for r in arms[name]) / n,
            "execution_match": 100.0 * sum(r["execution_match"] for r in arms[name]) / n,
            "runs_without_error": 100.0 * sum(r["runs"] for r in arms[name]) / n,
            "sandboxed": sum(r["sandbox_seconds"] > 0 for r in arms[name]),
        }
        for name, _ in ARMS
    }
    pairs = {label: _paired(arms[a], arms[b]) for label, a, b in PAIRS}
    rows = [
        [
            title,
            n,
            f"{summary[name]['exact_match']:.1f}",
            f"{summary[name]['execution_match']:.1f}",
            f"{summary[name]['runs_without_error']:.1f}",
        ]
        for name, title in ARMS
    ]
    pair_rows = [
        [label, p["wins"], p["losses"], f"{p['difference_pts']:+.1f}", f"{p['p_value']:.3g}"]
        for label, p in pairs.items()
    ]
    markdown = "\n".join(
        [
            "# code-infill: MIM's training vs its decoding",
            "",
            markdown_table(["arm", "n", "exact %", "exec match %", "runs %"], rows),
            "",
            "decoding = MIM model, MIM vs L2R decoding; training = MIM vs L2R model, both "
            "decoded left-to-right (paired on execution match, exact sign test).",
            "",
            markdown_table(
                ["effect", "wins", "losses", "difference (pts)", "sign test p"], pair_rows
            ),
            "",
        ]
    )
    data = {"run": run_dir, "summary": summary, "pairs": pairs}
    os.makedirs(os.path.join(run_dir, "ablation"), exist_ok=True)
    atomic_write_text(
        os.path.join(run_dir, "ablation", "mim_model_l2r_decoding.jsonl"),
        "".join(json.dumps(r) + "\n" for r in new),
    )
    atomic_write_json(os.path.join(run_dir, "ablation.json"), data)
    atomic_write_text(os.path.join(run_dir, "ablation.md"), markdown)
    data["markdown"] = markdown
    return data
