"""The one report: report.json, report.md (tables + orderings) and accuracy_vs_cost.png."""

from __future__ import annotations

import dataclasses
import math
import os

from lmlab_common import markdown_table, write_report

from .data import TopicTask
from .options import LifecycleOptions


@dataclasses.dataclass
class ModelRow:
    """One saved classifier, reloaded from disk and measured."""

    name: str
    folder: str
    accuracy: float
    params: int
    disk_mb: float
    reload_max_abs_diff: float
    latency_b1_ms: float | None = None
    latency_b32_ms: float | None = None


def label(name: str, budget: float) -> str:
    """Readable arm names for tables and the plot."""
    fixed = {
        "finetune/random": "random init + fine-tune (floor)",
        "finetune/mlm": "MLM-only pre-train + fine-tune",
        "finetune/rtd": "RTD+GDES pre-train + fine-tune (teacher)",
    }
    if name in fixed:
        return fixed[name]
    kind, method = name.split("-")
    student = f"LoSparse {budget:.0%} student" if kind == "losparse" else "half-depth student"
    return f"{student} + {method.upper()}"


def orderings(results: dict, n_test: int) -> list[dict]:
    """The comparisons the app exists to show, each with its accuracy difference and whether
    it exceeds two standard errors of a difference of two accuracies on ``n_test`` sentences."""
    acc = {f"finetune/{k}": v["accuracy"] for k, v in results.get("finetune", {}).items()}
    for kind in ("losparse", "half"):
        for method in ("ted", "kd"):
            entry = results.get(f"distill-{kind}", {}).get(method)
            if entry:
                acc[f"{kind}-{method}"] = entry["accuracy"]
    pairs = [
        ("RTD vs MLM-only pre-training", "finetune/rtd", "finetune/mlm"),
        ("RTD pre-training vs random init", "finetune/rtd", "finetune/random"),
        ("MLM-only pre-training vs random init", "finetune/mlm", "finetune/random"),
        ("TED vs KD (LoSparse student)", "losparse-ted", "losparse-kd"),
        ("TED vs KD (half-depth student)", "half-ted", "half-kd"),
        ("LoSparse vs half-depth student (TED)", "losparse-ted", "half-ted"),
        ("LoSparse vs half-depth student (KD)", "losparse-kd", "half-kd"),
    ]
    out = []
    for title, a, b in pairs:
        if a not in acc or b not in acc:
            continue
        p = (acc[a] + acc[b]) / 2
        two_se = 2 * math.sqrt(2 * p * (1 - p) / n_test) if 0 < p < 1 else 0.0
        diff = acc[a] - acc[b]
        out.append(
            {
                "comparison": title,
                "first": a,
                "second": b,
                "diff_points": 100 * diff,
                "held": diff > 0,
                "beyond_2se": abs(diff) > two_se,
                "two_se_points": 100 * two_se,
            }
        )
    return out


def plot(rows: list[ModelRow], budget: float, path: str) -> None:
    """Accuracy against parameters and against batch-32 latency."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for row in rows:
        for ax, x in zip(axes, (row.params / 1e6, row.latency_b32_ms), strict=True):
            ax.scatter(x, 100 * row.accuracy, s=45)
            ax.annotate(
                label(row.name, budget),
                (x, 100 * row.accuracy),
                fontsize=7,
                textcoords="offset points",
                xytext=(4, 4),
            )
    axes[0].set_xlabel("parameters (M, every stored number)")
    axes[1].set_xlabel("CPU latency, batch 32 (ms)")
    for ax in axes:
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
    fig.suptitle("encoder lifecycle: accuracy vs size and speed")
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def _fmt(value, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def write_lifecycle_report(
    options: LifecycleOptions,
    results: dict,
    wall_seconds: dict[str, float],
    task: TopicTask,
    rows: list[ModelRow] | None,
    total_seconds: float | None = None,
) -> dict:
    """Write report.json / report.md (and the plot once ``rows`` exist); return the data."""
    n_test = len(task.test_labels)
    data = {
        "settings": options.settings(),
        "task": task.to_dict() | {"n_train": len(task.train_labels), "n_test": n_test},
        "stages": results,
        "wall_seconds": wall_seconds,
        "total_seconds": total_seconds,
        "orderings": orderings(results, n_test),
        "models": [dataclasses.asdict(r) for r in rows] if rows else None,
        "complete": rows is not None,
    }
    lines = [
        "# encoder-lifecycle report" + ("" if rows else " (partial: run not finished)"),
        "",
        f"Encoder: DeBERTa-v2 (DeBERTaV3-style), {options.num_layers} layers × "
        f"{options.hidden_size}, vocabulary {results.get('data', {}).get('vocab_size', '?')} "
        f"(word-level, trained here). Pre-training text: "
        f"{results.get('data', {}).get('corpus_sentences', '?')} real English sentences "
        f"({results.get('data', {}).get('blocks', '?')} blocks of {options.block_size}). "
        f"Task: {len(task.groups)}-way Python-documentation group of a sentence; "
        f"{len(task.train_labels)} train / {n_test} test sentences, test sections held out "
        f"({', '.join(task.test_sections)}); majority class {100 * task.majority_accuracy:.1f}%. "
        f"Seed {options.seed}.",
        "",
    ]
    pre = [
        (arm, results[f"pretrain-{arm}"]) for arm in ("rtd", "mlm") if f"pretrain-{arm}" in results
    ]
    if pre:
        lines += [
            "## Pre-training",
            "",
            markdown_table(
                ["arm", "steps", "train s", "final MLM loss", "final RTD loss"],
                [
                    [
                        arm.upper(),
                        r["steps"],
                        _fmt(r["train_seconds"], ".0f"),
                        _fmt(r.get("final_mlm_loss"), ".3f"),
                        _fmt(r.get("final_rtd_loss"), ".4f"),
                    ]
                    for arm, r in pre
                ],
            ),
            "",
        ]
    if rows:
        lines += [
            "## Every model, reloaded from disk",
            "",
            markdown_table(
                ["model", "accuracy %", "params", "disk MB", "ms @1", "ms @32", "reload max |Δ|"],
                [
                    [
                        label(r.name, options.budget),
                        f"{100 * r.accuracy:.1f}",
                        f"{r.params:,}",
                        f"{r.disk_mb:.2f}",
                        _fmt(r.latency_b1_ms, ".1f"),
                        _fmt(r.latency_b32_ms, ".1f"),
                        f"{r.reload_max_abs_diff:.1e}",
                    ]
                    for r in rows
                ],
            ),
            "",
            "Latency: median CPU forward time on test sentences, all models timed round-robin "
            "in one run. Params: every stored number (compact LoSparse rows included).",
            "",
            "![accuracy vs size and speed](accuracy_vs_cost.png)",
            "",
        ]
    if data["orderings"]:
        lines += [
            "## Orderings",
            "",
            markdown_table(
                ["comparison", "difference (points)", "held", "beyond 2 SE"],
                [
                    [
                        o["comparison"],
                        f"{o['diff_points']:+.1f}",
                        "yes" if o["held"] else "no",
                        "yes" if o["beyond_2se"] else f"no (2 SE = {o['two_se_points']:.1f})",
                    ]
                    for o in data["orderings"]
                ],
            ),
            "",
        ]
    lines += [
        "## Wall time per stage",
        "",
        markdown_table(["stage", "seconds"], [[k, f"{v:.0f}"] for k, v in wall_seconds.items()]),
        "",
    ]
    if rows:
        plot(rows, options.budget, os.path.join(options.out_dir, "accuracy_vs_cost.png"))
    write_report(options.out_dir, "report", data, "\n".join(lines))
    return data
