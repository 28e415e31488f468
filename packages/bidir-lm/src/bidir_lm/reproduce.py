"""``bidir-lm reproduce``: seeds × {L2R, FIM, MIM, MIM β=0} on toy programs whose infilling
constraints cross the hole → ``reports/bidir-lm.{json,md}`` (written after every arm).

Finished arms found in an existing report with the same setup are reused, so an interrupted
run continues where it stopped.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict

from lmlab_common import get_logger, markdown_table, mean_std, write_report

from .experiment import ArmSetup, run_arm

log = get_logger(__name__)
NAME = "bidir-lm"
ARMS = (("l2r", 1.0), ("fim", 1.0), ("mim", 1.0), ("mim", 0.0))


def arm_setups(seeds: int, steps: int, eval_examples: int) -> list[ArmSetup]:
    return [
        ArmSetup(method=m, beta=b, seed=s, steps=steps, eval_examples=eval_examples)
        for s in range(seeds)
        for m, b in ARMS
    ]


def _previous(out_dir: str) -> list[dict]:
    path = os.path.join(out_dir, f"{NAME}.json")
    if not os.path.isfile(path):
        return []
    try:
        with open(path, encoding="utf-8") as fh:
            return list(json.load(fh).get("runs", []))
    except (OSError, ValueError):
        return []


def to_markdown(runs: list[dict], command: str) -> str:
    labels = [s.label for s in (ArmSetup(method=m, beta=b) for m, b in ARMS)]
    rows = []
    for label in labels:
        arm = [r for r in runs if r["label"] == label]
        if not arm:
            continue

        def fmt(key, scale=1.0, digits=3, arm=arm):
            return mean_std([r[key] for r in arm]).format(scale=scale, digits=digits)

        rows.append(
            [
                label,
                fmt("exact_match", 100, 1),
                fmt("validity", 100, 1),
                fmt("met", 100, 1),
                fmt("forward_perplexity", 1, 3),
                fmt("seconds_per_example", 1000, 2),
                fmt("mean_steps", 1, 1),
                fmt("train_seconds", 1, 0),
            ]
        )
    header = [
        "arm",
        "infill EM %",
        "validity %",
        "met %",
        "forward ppl",
        "infill ms/example",
        "decode steps",
        "train s",
    ]
    lines = [
        "# bidir-lm: Meet in the Middle vs L2R vs FIM (toy programs, small scale)",
        "",
        f"Command: `{command}`. Mean ± sample sd over seeds; same model size, initialisation, "
        "documents, batch size and steps in every arm of a seed. Infilling: greedy, batch 50; "
        "L2R stops at the suffix's first token, FIM at `<fim_end>`.",
        "",
        markdown_table(header, rows) if rows else "(no finished arm yet)",
        "",
    ]
    by_seed: dict[int, dict[str, dict]] = {}
    for r in runs:
        by_seed.setdefault(r["setup"]["seed"], {})[r["label"]] = r
    deltas = []
    for seed, arms in sorted(by_seed.items()):
        if "MIM" in arms and "L2R" in arms:
            d_em = arms["MIM"]["exact_match"] - arms["L2R"]["exact_match"]
            d_ppl = arms["MIM"]["forward_perplexity"] - arms["L2R"]["forward_perplexity"]
            deltas.append(f"seed {seed}: EM {100 * d_em:+.1f} pts, forward ppl {d_ppl:+.3f}")
    if deltas:
        lines += ["Per seed, MIM − L2R: " + "; ".join(deltas) + ".", ""]
    return "\n".join(lines)


def run(
    out_dir: str = "reports",
    seeds: int = 3,
    steps: int = 500,
    eval_examples: int = 200,
    command: str = "bidir-lm reproduce",
) -> dict:
    """Run (or reuse) every arm; the report is rewritten after each one."""
    previous = _previous(out_dir)
    runs: list[dict] = []
    setups = arm_setups(seeds, steps, eval_examples)
    for i, setup in enumerate(setups, 1):
        done = [r for r in previous if r.get("setup") == asdict(setup)]
        if done:
            log.info("[%d/%d] %s seed %d: reused", i, len(setups), setup.label, setup.seed)
            runs.append(done[0])
        else:
            log.info("[%d/%d] %s seed %d", i, len(setups), setup.label, setup.seed)
            runs.append(run_arm(setup))
        report = {"command": command, "runs": runs}
        write_report(out_dir, NAME, report, to_markdown(runs, command))
    return {"command": command, "runs": runs}
