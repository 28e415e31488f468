"""``step-verifier reproduce``: the DIVERSE ordering on the synthetic task, N seeds.

Writes ``reports/step-verifier.{json,md}`` after every finished arm (a killed run keeps what it
finished) and a plot of accuracy against k (``step-verifier-accuracy.svg``, drawn by hand so no
plotting library is needed).
"""

from __future__ import annotations

import math
import os

from lmlab_common import (
    atomic_write_text,
    get_logger,
    markdown_table,
    mean_std,
    require_int,
    write_report,
)

from .experiment import ExperimentConfig, run_seed

NAME = "step-verifier"
log = get_logger(__name__)

QUICK = dict(
    generator_pairs=2000,
    generator_steps=60,
    train_questions=40,
    train_paths=4,
    test_questions=20,
    test_paths=6,
    verifier_steps=20,
    repeats=2,
)
ARMS = [
    ("greedy", None),
    ("self-consistency (majority vote)", "majority_vote"),
    ("verifier top-1, α = 0", ("alpha=0", "verifier_top1")),
    ("verifier top-1, α = 0.1", ("alpha=0.1", "verifier_top1")),
    ("weighted vote, α = 0 (plain)", ("alpha=0", "weighted_vote")),
    ("weighted vote, α = 0.1 (DIVERSE)", ("alpha=0.1", "weighted_vote")),
    ("recall@k (oracle ceiling)", "recall"),
]


def _value(run: dict, key, k: int) -> float | None:
    if key is None:
        return run["greedy"]
    if isinstance(key, tuple):
        block = run.get(key[0])
        return None if block is None else block[key[1]].get(k)
    return run.get(key, {}).get(k)


def summarize(runs: list[dict], cfg: ExperimentConfig) -> tuple[dict, str]:
    """Mean ± sd over seeds of every arm at every k, and the Markdown report."""
    ks = sorted({k for r in runs for k in r.get("majority_vote", {})})
    table: dict = {}
    rows = []
    for label, key in ARMS:
        table[label] = {}
        cells = [label]
        for k in ks:
            values = [v for r in runs if (v := _value(r, key, k)) is not None]
            ms = mean_std(values)
            table[label][k] = ms.to_dict()
            cells.append(ms.format(scale=100, digits=1) if values else "—")
        rows.append(cells)
    md = [
        "# step-verifier: DIVERSE on the synthetic mod-10 task",
        "",
        f"Accuracy (%) at k sampled paths, mean ± sd over seeds {[r['seed'] for r in runs]}; "
        f"{cfg.test_questions} held-out questions × {cfg.test_paths} paths, each k averaged over "
        f"{cfg.repeats} random subsets. Greedy is one path and does not depend on k.",
        "",
        markdown_table(["method"] + [f"k={k}" for k in ks], rows),
        "",
        "## Verifier quality (held-out paths)",
        "",
    ]
    quality = []
    for alpha in cfg.alphas:
        key = f"alpha={alpha:g}"
        done = [r[key] for r in runs if key in r]
        if not done:
            continue
        quality.append(
            [f"α = {alpha:g}"]
            + [
                mean_std(x[m] for x in done if not math.isnan(x[m])).format(digits=3)
                for m in ("path_auc", "careful_path_auc", "step_auc")
            ]
        )
    md.append(
        markdown_table(["verifier", "path AUC", "AUC among careful paths", "step AUC"], quality)
    )
    md += ["", "## Generator", ""]
    for r in runs:
        md.append(
            f"- seed {r['seed']}: greedy strategies {r['greedy_strategy']}, sampled shares "
            + ", ".join(f"{k} {v:.2f}" for k, v in r["strategy_shares"].items())
            + f", path accuracy {r['path_accuracy']:.3f}, invalid paths {r['invalid_paths']}"
        )
    data = {"config": cfg.to_dict(), "runs": runs, "summary": table, "ks": ks}
    return data, "\n".join(md) + "\n"


def plot_svg(summary: dict, ks: list[int], path: str) -> None:
    """A small line chart of mean accuracy against k (log-scaled x) per arm."""
    w, h, pad = 560, 320, 50
    colors = ["#444", "#1f77b4", "#aec7e8", "#ff7f0e", "#98df8a", "#2ca02c", "#999"]
    xs = {k: pad + (w - 2 * pad) * (math.log(k) / math.log(max(ks)) if max(ks) > 1 else 0)
          for k in ks}  # fmt: skip
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h + 140}">']
    parts.append(f'<rect x="{pad}" y="{pad}" width="{w - 2 * pad}" height="{h - 2 * pad}" '
                 'fill="none" stroke="#ccc"/>')  # fmt: skip
    for k in ks:
        parts.append(f'<text x="{xs[k]:.0f}" y="{h - pad + 16}" font-size="11">{k}</text>')
    for i, (label, row) in enumerate(summary.items()):
        pts = [(xs[k], row[k]["mean"]) for k in ks if row.get(k, {}).get("n")]
        coords = " ".join(f"{x:.1f},{pad + (1 - y) * (h - 2 * pad):.1f}" for x, y in pts)
        color = colors[i % len(colors)]
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="2"/>')
        parts.append(
            f'<text x="{pad}" y="{h + 10 + 16 * i}" font-size="12" fill="{color}">{label}</text>'
        )
    parts.append(f'<text x="{w / 2 - 60:.0f}" y="{h - 12}" font-size="12">k (log scale)</text>')
    parts.append("</svg>")
    atomic_write_text(path, "\n".join(parts) + "\n")


def _run_seed(args: tuple[ExperimentConfig, int]) -> dict:
    import torch

    torch.set_num_threads(1)  # one thread per worker process
    return run_seed(*args)


def reproduce(out_dir: str, seeds: int = 3, quick: bool = False, jobs: int = 1) -> dict:
    """Run seeds 0..seeds-1; ``jobs > 1`` runs that many seeds at once in worker processes
    (the report is then written after every finished seed instead of every arm)."""
    require_int("jobs", jobs, low=1)
    cfg = ExperimentConfig(**QUICK) if quick else ExperimentConfig()
    runs: list[dict] = []

    def save(partial: dict | None = None) -> dict:
        current = sorted(runs + ([partial] if partial is not None else []), key=lambda r: r["seed"])
        data, md = summarize(current, cfg)
        write_report(out_dir, NAME, data, md)
        plot_svg(data["summary"], data["ks"], os.path.join(out_dir, f"{NAME}-accuracy.svg"))
        return data

    if jobs == 1:
        for seed in range(seeds):
            log.info("seed %d", seed)
            runs.append(run_seed(cfg, seed, on_arm=save))
            data = save()
        return data
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = [pool.submit(_run_seed, (cfg, seed)) for seed in range(seeds)]
        for future in as_completed(futures):
            runs.append(future.result())
            log.info("seed %d done", runs[-1]["seed"])
            data = save()
    return data
