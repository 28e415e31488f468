"""``task-distill reproduce``: the claim at small scale → ``reports/task-distill.{json,md}``.

Parts (``--parts``), each for ``--seeds`` seeds, every arm from the same student and the same
number of steps:

- ``synthetic``: the nuisance task the claim test uses (TED's premise built in);
- ``text``: topic classification of real English sentences (a user's task, not built for TED);
- ``lm``: causal-LM continual pre-training on a Markov LM (test perplexity);
- ``official-init`` (not in the default): KD / LWD / fine-tuning from the *pre-trained*
  student, TED from the fine-tuned one, as the official scripts do.

The report is rewritten after every arm, so a killed run keeps its finished arms.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys

from lmlab_common import get_logger, markdown_table, mean_std, require, write_report

from .experiment import ARMS, ClaimSetup, run_claim
from .scenarios import LMSetup, TextSetup, run_lm, run_text

log = get_logger(__name__)
PARTS = ("synthetic", "text", "lm", "official-init")
ARM_NAMES = {
    "finetune": "continued fine-tuning",
    "kd": "KD",
    "lwd": "LWD",
    "ted": "**TED** (default: normalised layer loss)",
    "ted_official": "TED, official raw layer loss",
}
TITLES = {
    "synthetic": "Synthetic nuisance task (the claim test's task), test accuracy %",
    "text": "Real English sentences, topic classification, test accuracy %",
    "lm": "Causal-LM continual pre-training (GPT-2 4×64 → 2×32), test perplexity",
    "official-init": "Synthetic task, official asymmetric initialisation, test accuracy %",
}


def _metric(part: str) -> str:
    return "ppl" if part == "lm" else "acc"


def part_table(part: str, rows: list[dict]) -> str:
    """Markdown: one line per arm, mean ± sd (n) over finished seeds and the per-seed values."""
    metric = _metric(part)
    scale, digits = (1.0, 2) if metric == "ppl" else (100.0, 1)
    ref = ["teacher", "student_init" if metric == "ppl" else "student_finetuned"]
    lines = []
    for arm in [*ref, *ARMS]:
        values = [r[f"{arm}_{metric}"] for r in rows if f"{arm}_{metric}" in r]
        if not values:
            continue
        stat = mean_std(values)
        per_seed = ", ".join(f"{scale * v:.{digits}f}" for v in values)
        lines.append([ARM_NAMES.get(arm, arm), stat.format(scale=scale, digits=digits), per_seed])
    return markdown_table(["arm", "mean ± sd (n)", "per seed"], lines)


def _deltas(part: str, rows: list[dict]) -> str:
    metric = _metric(part)
    sign = -1.0 if metric == "ppl" else 100.0  # accuracy in points; perplexity lower is better
    out = []
    for other in ("kd", "lwd", "finetune"):
        pairs = [
            (r[f"ted_{metric}"], r[f"{other}_{metric}"])
            for r in rows
            if f"ted_{metric}" in r and f"{other}_{metric}" in r
        ]
        if pairs:
            diffs = [sign * (t - o) for t, o in pairs]
            wins = sum(d > 0 for d in diffs)
            unit = "perplexity lower by" if metric == "ppl" else "points"
            out.append(
                f"TED − {ARM_NAMES[other]} ({unit}): {mean_std(diffs).format(digits=2)}, "
                f"TED better in {wins}/{len(diffs)} seeds"
            )
    return "\n".join(f"- {line}" for line in out)


def to_markdown(report: dict) -> str:
    lines = ["# task-distill reproduce", "", f"Command: `{report['command']}`", ""]
    for part in PARTS:
        rows = report["parts"].get(part) or []
        if not rows:
            continue
        lines += [f"## {TITLES[part]}", "", part_table(part, rows), "", _deltas(part, rows), ""]
        probes = [r for r in rows if "probe_raw" in r]
        if probes:
            raw = mean_std(r["probe_raw"]["nuisance_share"] for r in probes)
            filt = mean_std(r["probe_filtered"]["nuisance_share"] for r in probes)
            raw_text, filt_text = raw.format(scale=100, digits=1), filt.format(scale=100, digits=1)
            lines += [
                "Nuisance share of the variance of the teacher's last mapped layer: raw "
                f"{raw_text} %, filtered {filt_text} %.",
                "",
            ]
    return "\n".join(lines)


def run(out: str, seeds: int, parts: tuple[str, ...], command: str) -> dict:
    """Every part × seed; the report is written after every arm. Returns the report."""
    report: dict = {"command": command, "seeds": seeds, "parts": {p: [] for p in parts}}
    report["defaults"] = {
        "synthetic": dataclasses.asdict(ClaimSetup()),
        "text": dataclasses.asdict(TextSetup()),
        "lm": dataclasses.asdict(LMSetup()),
    }

    def save() -> None:
        write_report(out, "task-distill", report, to_markdown(report))

    for seed in range(seeds):  # seed-major: a partial run covers every part
        for part in parts:
            log.info("%s seed %d", part, seed)
            row: dict = {"seed": seed, "finished": False}
            report["parts"][part].append(row)
            metric = _metric(part)

            def on_arm(name, value, row=row, metric=metric):
                row[f"{name}_{metric}"] = value
                save()

            try:
                if part == "text":
                    result = run_text(TextSetup(seed=seed), on_arm=on_arm)
                elif part == "lm":
                    result = run_lm(LMSetup(seed=seed), on_arm=on_arm)
                else:
                    init = "official" if part == "official-init" else "same"
                    setup = ClaimSetup(seed=seed, init_protocol=init, arms=ARMS)
                    result = run_claim(setup, on_arm=on_arm)
            except (RuntimeError, ValueError) as err:  # keep the other parts going
                log.exception("%s seed %d failed", part, seed)
                row["error"] = f"{type(err).__name__}: {err}"
                save()
                continue
            row.update(result, finished=True)
            save()
    return report


def run_and_report(ns: argparse.Namespace) -> int:
    parts = tuple(p.strip() for p in ns.parts.split(",") if p.strip())
    for part in parts:
        require(part in PARTS, "--parts", ns.parts, f"a comma-separated subset of {PARTS}")
    command = "task-distill " + shlex.join(sys.argv[1:])
    report = run(ns.out, ns.seeds, parts, command)
    print(to_markdown(report))
    return 0
