"""The side-by-side report: report.json, report.md with the table, and the two plots."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from lmlab_common import atomic_write_json, atomic_write_text


@dataclasses.dataclass
class ArmResult:
    """One compressed (or original) model, measured on the held-out sentences."""

    name: str
    linear_params: int  # parameters of the encoder's (replaced) linear layers
    total_params: int  # every stored number of the model
    disk_mb: float
    latency_b1_ms: float
    latency_b32_ms: float
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
        cells = [fmt.format(getattr(row, key)) for key, _, fmt in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(rows: list[ArmResult], path: str) -> None:
    """Two panels: mean cosine vs linear parameters, and vs batch-32 latency."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for row in rows:
        for ax, x in zip(axes, (row.linear_params / 1e6, row.latency_b32_ms), strict=True):
            ax.scatter(x, row.mean_cosine, s=50)
            ax.annotate(row.name, (x, row.mean_cosine), textcoords="offset points", xytext=(5, 5))
    axes[0].set_xlabel("encoder linear parameters (M)")
    axes[1].set_xlabel("CPU latency, batch 32 (ms)")
    for ax in axes:
        ax.set_ylabel("mean cosine to the original")
        ax.grid(alpha=0.3)
    fig.suptitle("all-MiniLM-L6-v2 compressed: quality vs size and speed")
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def write_report(out_dir: str, rows: list[ArmResult], settings: dict[str, Any]) -> str:
    """Write report.json, report.md and quality.png into ``out_dir``; return the md text."""
    plot(rows, os.path.join(out_dir, "quality.png"))
    atomic_write_json(
        os.path.join(out_dir, "report.json"),
        {"settings": settings, "rows": [dataclasses.asdict(r) for r in rows]},
    )
    lines = [
        "# compress-embedder report",
        "",
        f"Model: all-MiniLM-L6-v2. Budget: {settings['budget']:.0%} of the encoder's linear "
        f"parameters. Held-out sentences: {settings['eval_sentences']}. "
        f"Training steps: {settings['steps']}. Seed: {settings['seed']}.",
        "",
        markdown_table(rows),
        "",
        "Quality columns compare each model's embeddings with the original's on the held-out "
        "sentences: mean cosine, Spearman correlation of all pairwise similarities, and "
        "nearest-neighbour agreement (top-1, top-5). Latency is the median CPU forward time, "
        "all models timed round-robin in one run.",
        "",
        "![quality vs size and speed](quality.png)",
        "",
    ]
    text = "\n".join(lines)
    atomic_write_text(os.path.join(out_dir, "report.md"), text)
    return text
