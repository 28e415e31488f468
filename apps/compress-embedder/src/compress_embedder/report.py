"""The side-by-side report: report.json, report.md with the table, the Pareto fronts and plot."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from lmlab_common import atomic_write_json, atomic_write_text


@dataclasses.dataclass
class ArmResult:
    """One compressed (or original) model, measured on the held-out sentences."""

    name: str
    budget: float | None  # fraction of the encoder's linear parameters kept (None: all)
    linear_params: int  # parameters of the encoder's (replaced) linear layers
    total_params: int  # every stored number of the model
    disk_mb: float
    latency_b1_ms: float | None  # None until the round-robin timing at the end of a run
    latency_b32_ms: float | None
    mean_cosine: float
    spearman: float
    top1_overlap: float
    top5_overlap: float


COLUMNS = [
    ("name", "model", "{}"),
    ("linear_params", "linear params", "{:,}"),
    ("total_params", "total params", "{:,}"),
    ("disk_mb", "disk MB", "{:.1f}"),
    ("latency_b1_ms", "ms @1", "{:.1f}"),
    ("latency_b32_ms", "ms @32", "{:.1f}"),
    ("mean_cosine", "cosine", "{:.4f}"),
    ("spearman", "Spearman", "{:.4f}"),
    ("top1_overlap", "top-1", "{:.3f}"),
    ("top5_overlap", "top-5", "{:.3f}"),
]


def markdown_table(rows: list[ArmResult]) -> str:
    head = "| " + " | ".join(title for _, title, _ in COLUMNS) + " |"
    rule = "|" + "|".join("---" for _ in COLUMNS) + "|"
    lines = [head, rule]
    for row in rows:
        cells = [
            "—" if getattr(row, key) is None else fmt.format(getattr(row, key))
            for key, _, fmt in COLUMNS
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def pareto_front(rows: list[ArmResult], cost: str) -> list[str]:
    """Names of the rows no other row dominates on (higher cosine, lower ``cost``), by cost.

    Row a dominates b when a.cosine >= b.cosine and a.cost <= b.cost, one of them strictly.
    Rows without a value for ``cost`` are left out."""
    known = [r for r in rows if getattr(r, cost) is not None]
    front = []
    for b in known:
        dominated = any(
            a is not b
            and a.mean_cosine >= b.mean_cosine
            and getattr(a, cost) <= getattr(b, cost)
            and (a.mean_cosine > b.mean_cosine or getattr(a, cost) < getattr(b, cost))
            for a in known
        )
        if not dominated:
            front.append(b)
    return [r.name for r in sorted(front, key=lambda r: getattr(r, cost))]


def dominators(rows: list[ArmResult], target: str, cost: str) -> list[str]:
    """Names of the rows that dominate row ``target`` on (cosine, ``cost``)."""
    by_name = {r.name: r for r in rows}
    t = by_name[target]
    if getattr(t, cost) is None:
        return []
    return [
        a.name
        for a in rows
        if a is not t
        and getattr(a, cost) is not None
        and a.mean_cosine >= t.mean_cosine
        and getattr(a, cost) <= getattr(t, cost)
        and (a.mean_cosine > t.mean_cosine or getattr(a, cost) < getattr(t, cost))
    ]


PANELS = [("disk_mb", "size on disk (MB)"), ("latency_b1_ms", "CPU latency, batch 1 (ms)")]


def plot(rows: list[ArmResult], path: str, title: str) -> None:
    """Two panels: mean cosine vs size on disk and vs batch-1 latency; Pareto fronts drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
    for ax, (key, label) in zip(axes, PANELS, strict=True):
        known = [r for r in rows if getattr(r, key) is not None]
        front = set(pareto_front(known, key))
        for row in known:
            x, y = getattr(row, key), row.mean_cosine
            on_front = row.name in front
            ax.scatter(x, y, s=55 if on_front else 30, c="C3" if on_front else "C0")
            ax.annotate(row.name, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
        line = sorted((r for r in known if r.name in front), key=lambda r: getattr(r, key))
        if line:
            ax.plot([getattr(r, key) for r in line], [r.mean_cosine for r in line], "C3--", lw=1)
        ax.set_xlabel(label)
        ax.set_ylabel("mean cosine to the original")
        ax.grid(alpha=0.3)
    fig.suptitle(title + " (red: Pareto front)")
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def fronts_markdown(rows: list[ArmResult], compare_to: list[str]) -> list[str]:
    """Bullet lines: the Pareto fronts, and which rows dominate each of ``compare_to``."""
    lines = []
    for key, label in PANELS:
        names = pareto_front(rows, key)
        if names:
            lines.append(f"- Pareto front, cosine vs {label}: " + " → ".join(names) + ".")
    names = {r.name for r in rows}
    for target in compare_to:
        if target not in names:
            continue
        parts = []
        for key, label in PANELS:
            found = dominators(rows, target, key)
            parts.append(f"on cosine vs {label} by " + (", ".join(found) if found else "none"))
        lines.append(f"- `{target}` is dominated " + "; ".join(parts) + ".")
    return lines


def dominance(rows: list[ArmResult], compare_to: list[str]) -> dict[str, dict[str, list[str]]]:
    names = {r.name for r in rows}
    return {
        t: {key: dominators(rows, t, key) for key, _ in PANELS} for t in compare_to if t in names
    }


def write_report(
    out_dir: str,
    rows: list[ArmResult],
    settings: dict[str, Any],
    plot_name: str = "quality.png",
    title: str = "compress-embedder report",
    compare_to: tuple[str, ...] = (),
) -> str:
    """Write report.json, report.md and the plot into ``out_dir``; return the md text."""
    plot(rows, os.path.join(out_dir, plot_name), "all-MiniLM-L6-v2 compressed")
    fronts = {key: pareto_front(rows, key) for key, _ in PANELS}
    atomic_write_json(
        os.path.join(out_dir, "report.json"),
        {
            "settings": settings,
            "rows": [dataclasses.asdict(r) for r in rows],
            "pareto_front": fronts,
            "dominated_by": dominance(rows, list(compare_to)),
        },
    )
    budget = settings.get("budgets") or [settings["budget"]]
    lines = [
        f"# {title}",
        "",
        "Model: all-MiniLM-L6-v2. Budget: "
        + ", ".join(f"{b:.0%}" for b in budget)
        + f" of the encoder's linear parameters. Held-out sentences: "
        f"{settings['eval_sentences']} ({settings['text_source']} source, disjoint from the "
        f"{settings.get('train_sentences_used', settings['train_sentences'])} training "
        f"sentences). Distillation steps per arm: {settings['steps']} (batch "
        f"{settings['batch_size']}). Seed: {settings['seed']}. Threads: {settings['threads']}.",
        "",
        markdown_table(rows),
        "",
        *fronts_markdown(rows, list(compare_to)),
        "",
        "Quality columns compare each model's embeddings with the original's on the held-out "
        "sentences: mean cosine, Spearman correlation of all pairwise similarities, and "
        "nearest-neighbour agreement (top-1, top-5). Latency is the median CPU forward time, "
        "all models timed round-robin in one run (— = not timed yet: the run is still going).",
        "",
        f"![quality vs size and speed]({plot_name})",
        "",
    ]
    text = "\n".join(lines)
    atomic_write_text(os.path.join(out_dir, "report.md"), text)
    return text
