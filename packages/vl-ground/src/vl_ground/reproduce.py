"""``vl-ground reproduce``: with vs without alignment × seeds → ``reports/vl-ground.{json,md}``."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from lmlab_common import get_logger, markdown_table, mean_std, write_report

from .experiment import ClaimSetup, run_claim

log = get_logger(__name__)
ARMS = ("with_alignment", "without_alignment")
METRICS = (
    ("ground_heldout", "grounding acc@0.5, held-out compositions"),
    ("ground_seen", "grounding acc@0.5, seen compositions"),
    ("vqa", "VQA exact match"),
    ("caption_f1", "caption attribute F1"),
)


def to_markdown(runs: list[dict[str, Any]]) -> str:
    lines = ["# vl-ground: pre-training with vs without object–text alignment", ""]
    if not runs:
        return "\n".join(lines + ["(no finished seed yet)"])
    rows = []
    for key, title in METRICS:
        cells = [mean_std([r[arm][key] for r in runs]).format(scale=100, digits=1) for arm in ARMS]
        rows.append([title, *cells])
    for name in ("largest_object", "centre_object", "random_object"):
        values = [r["baselines_heldout"][name] for r in runs]
        rows.append(
            [
                f"baseline: {name.replace('_', ' ')} (held-out items)",
                mean_std(values).format(scale=100, digits=1),
                "same",
            ]
        )
    lines += [
        "Zero-shot, mean ± sd over seeds (%):",
        "",
        markdown_table(["metric", "with alignment", "without alignment"], rows),
        "",
    ]
    few = [r for r in runs if "few_shot" in r["with_alignment"]]
    if few:
        rows = [
            [
                title,
                *[mean_std([r[arm]["few_shot"][key] for r in few]).format(100, 1) for arm in ARMS],
            ]
            for key, title in METRICS
            if key in few[0]["with_alignment"]["few_shot"]
        ]
        lines += [
            f"Few-shot ({few[0]['setup']['few_shot']} examples per task, 30 steps):",
            "",
            markdown_table(["metric", "with alignment", "without alignment"], rows),
            "",
        ]
    setup = runs[0]["setup"]
    lines.append(
        f"Setup: {setup}; held-out grounding items per seed: "
        f"{[r['n_heldout_items'] for r in runs]}."
    )
    return "\n".join(lines)


def reproduce(out: str, seeds: int = 3, steps: int = 1500, quick: bool = False) -> dict:
    """Run each seed (both arms), rewriting the report after every seed."""
    runs: list[dict[str, Any]] = []
    for seed in range(seeds):
        setup = ClaimSetup(seed=seed, steps=steps, few_shot=32)
        if quick:
            setup = dataclasses.replace(setup, n_train=1500, n_test=200, steps=min(steps, 300))
        log.info("seed %d/%d", seed + 1, seeds)
        runs.append(run_claim(setup))
        write_report(out, "vl-ground", {"runs": runs}, to_markdown(runs))
    log.info("report: %s", os.path.join(out, "vl-ground.md"))
    return {"runs": runs}
