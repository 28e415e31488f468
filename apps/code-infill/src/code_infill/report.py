"""The report: per-method metrics, paired orderings, a bar chart and side-by-side examples."""

from __future__ import annotations

import math
import os
from typing import Any

from lmlab_common import markdown_table, write_report

from .data import InfillTask
from .judging import OUTCOME_LABELS, OUTCOMES
from .options import LABELS

ORDERINGS = (("mim", "l2r"), ("mim", "fim"), ("fim", "l2r"))  # (better?, than)


def summarize(records: list[dict]) -> dict[str, Any]:
    """Rates (%) and counts for one method's judged fills."""
    n = len(records)
    if n == 0:
        return {"n": 0}

    def pct(key: str) -> float:
        return 100.0 * sum(bool(r[key]) for r in records) / n

    outcomes = {o: sum(r["outcome"] == o for r in records) for o in OUTCOMES}
    return {
        "n": n,
        "exact_match": pct("exact_match"),
        "execution_match": pct("execution_match"),
        "runs_without_error": pct("runs"),
        "latency_ms": sum(r["latency_ms"] for r in records) / n,
        "met": pct("met"),
        "empty_fills": 100.0 * sum(not r["middle"].strip() for r in records) / n,
        "decode_steps": sum(r["decode_steps"] for r in records) / n,
        "exec_match_not_exact": sum(r["execution_match"] and not r["exact_match"] for r in records),
        "outcomes": outcomes,
        "wrong_state_only": sum(
            r["outcome"] == "wrong_output" and r["same_stdout"] for r in records
        ),
        "sandboxed": sum(r["sandbox_seconds"] > 0 for r in records),
    }


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact sign test p-value for ``wins`` vs ``losses`` (ties dropped)."""
    n = wins + losses
    if n == 0:
        return 1.0
    k = min(wins, losses)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def orderings(by_method: dict[str, list[dict]]) -> list[dict]:
    """Paired comparison of execution match on the tasks both methods filled."""
    out = []
    for a, b in ORDERINGS:
        if a not in by_method or b not in by_method:
            continue
        ra = {r["task_id"]: r["execution_match"] for r in by_method[a]}
        rb = {r["task_id"]: r["execution_match"] for r in by_method[b]}
        common = sorted(set(ra) & set(rb))
        if not common:
            continue
        wins = sum(ra[t] and not rb[t] for t in common)
        losses = sum(rb[t] and not ra[t] for t in common)
        diff = 100.0 * (wins - losses) / len(common)
        p = sign_test(wins, losses)
        out.append(
            {
                "claim": f"{LABELS[a]} > {LABELS[b]}",
                "tasks": len(common),
                "wins": wins,
                "losses": losses,
                "difference_pts": diff,
                "p_value": p,
                "held": diff > 0 and p < 0.05,
            }
        )
    return out


def _cell(text: str) -> str:
    shown = text.replace("\n", "⏎").replace("|", "\\|").replace("`", "'")
    return f"`{shown}`" if shown.strip() else "(empty)"


def pick_examples(
    tasks: list[InfillTask], by_method: dict[str, list[dict]], per_method: int
) -> list[str]:
    """Task ids: for each method, tasks it alone gets right first, then tasks it gets wrong."""
    rows = {m: {r["task_id"]: r for r in recs} for m, recs in by_method.items()}
    done = [t.task_id for t in tasks if all(t.task_id in rows[m] for m in rows)]
    chosen: list[str] = []
    for method in rows:
        others = [m for m in rows if m != method]
        alone = [
            t
            for t in done
            if rows[method][t]["execution_match"]
            and not any(rows[o][t]["execution_match"] for o in others)
        ]
        wrong = [t for t in done if not rows[method][t]["execution_match"]]
        picks = [t for t in alone + wrong if t not in chosen][:per_method]
        chosen += picks
    return chosen


def render_example(task: InfillTask, by_method: dict[str, dict[str, dict]]) -> str:
    last = task.start + task.num_lines
    removed = f"lines {task.start + 1}-{last}" if task.num_lines > 1 else f"line {last}"
    hole = f"# ▶ {task.num_lines} line(s) removed here\n"
    head = f"**{task.task_id}** ({task.tier}{', mutant' if task.is_mutant else ''}; {removed})"
    rows = [["original", _cell(task.middle), "—"]]
    for method, recs in by_method.items():
        r = recs[task.task_id]
        tag = "exact" if r["exact_match"] else OUTCOME_LABELS[r["outcome"]]
        rows.append([LABELS[method], _cell(r["middle"]), tag])
    table = markdown_table(["", "fill", "verdict (sandbox)"], rows)
    return f"{head}\n\n```python\n{task.prefix}{hole}{task.suffix}```\n\n{table}\n"


def plot(summary: dict[str, dict], path: str) -> None:
    """Grouped bars of the three rates per method, and the failure classes stacked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = [m for m in summary if summary[m].get("n")]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    keys = [
        ("exact_match", "exact match"),
        ("execution_match", "execution match"),
        ("runs_without_error", "runs without error"),
    ]
    width = 0.8 / len(keys)
    for k, (key, label) in enumerate(keys):
        xs = [i + (k - 1) * width for i in range(len(methods))]
        axes[0].bar(xs, [summary[m][key] for m in methods], width, label=label)
    axes[0].set_ylabel("% of held-out infills")
    axes[0].set_ylim(0, 100)
    axes[0].legend(fontsize=8)
    bottom = [0.0] * len(methods)
    for outcome in OUTCOMES:
        values = [100.0 * summary[m]["outcomes"][outcome] / summary[m]["n"] for m in methods]
        axes[1].bar(range(len(methods)), values, 0.6, bottom=bottom, label=OUTCOME_LABELS[outcome])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    axes[1].set_ylabel("% of held-out infills")
    axes[1].legend(fontsize=7)
    for ax in axes:
        ax.set_xticks(range(len(methods)), [LABELS[m] for m in methods])
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("code-infill: fills judged by running them in the sandbox")
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def build_report(
    out_dir: str,
    settings: dict,
    data_stats: dict,
    training: dict[str, dict],
    tasks: list[InfillTask],
    by_method: dict[str, list[dict]],
    num_examples: int,
    finished: bool,
) -> str:
    """Write report.json, report.md and infill.png into ``out_dir``; return the markdown."""
    summary = {m: summarize(recs) for m, recs in by_method.items()}
    order = orderings(by_method) if finished else []
    if any(s.get("n") for s in summary.values()):
        plot(summary, os.path.join(out_dir, "infill.png"))
    header = [
        "method",
        "n",
        "exact %",
        "exec match %",
        "runs %",
        "ms / infill",
        "met %",
        "empty %",
        "syntax err",
        "runtime err",
        "timeout",
        "wrong output",
        "train s",
    ]
    rows = []
    for m, s in summary.items():
        if not s.get("n"):
            continue
        o = s["outcomes"]
        rows.append(
            [
                LABELS[m],
                s["n"],
                f"{s['exact_match']:.1f}",
                f"{s['execution_match']:.1f}",
                f"{s['runs_without_error']:.1f}",
                f"{s['latency_ms']:.1f}",
                f"{s['met']:.1f}",
                f"{s['empty_fills']:.1f}",
                o["syntax_error"],
                o["runtime_error"],
                o["timeout"] + o["resource_limit"],
                o["wrong_output"],
                f"{training.get(m, {}).get('train_seconds', float('nan')):.0f}",
            ]
        )
    status = "finished" if finished else "partial (the run is still going or was stopped)"
    lines = [
        "# code-infill report",
        "",
        f"Status: **{status}**. Held-out tasks: {len(tasks)} "
        f"({data_stats.get('train_programs', '?')} training programs; held-out programs from "
        f"generator seed {settings['seed'] + 1}, training from seed {settings['seed']}; "
        f"{data_stats.get('heldout_dropped_as_duplicates', 0)} held-out duplicates of training "
        "programs dropped). Every fill was run in code-exec's sandbox.",
        "",
        markdown_table(header, rows) if rows else "_No infills finished yet._",
        "",
        "exact = the fill equals the removed lines; exec match = the filled program runs, "
        "prints the same output and ends with the same variable values as the original "
        "(code-exec trace); runs = sandbox status ok; ms / infill = wall time of the batched "
        "infill call divided by its size; met = MIM sides met / L2R reached the suffix / FIM "
        "emitted `<fim_end>`; empty = the fill is blank or whitespace only (with "
        f"min_new_tokens={settings.get('min_new_tokens', 0)}; at 0, MIM can meet at once "
        "when the suffix's first token is the forward side's first guess). Failure counts: "
        "syntax error, runtime error, timeout (or step, memory, output limit), wrong output (ran, "
        "but printed output or final state differ).",
        "",
    ]
    if order:
        lines += ["## Orderings on execution match (paired, same tasks)", ""]
        lines.append(
            markdown_table(
                ["claim", "tasks", "wins", "losses", "difference (pts)", "sign test p", "held"],
                [
                    [
                        o["claim"],
                        o["tasks"],
                        o["wins"],
                        o["losses"],
                        f"{o['difference_pts']:+.1f}",
                        f"{o['p_value']:.3g}",
                        "yes" if o["held"] else "no",
                    ]
                    for o in order
                ],
            )
        )
        lines += ["", "held = the first method has more execution matches and p < 0.05.", ""]
    if rows:
        lines += ["![rates and failure classes](infill.png)", ""]
    examples = pick_examples(tasks, by_method, num_examples) if finished else []
    by_id = {t.task_id: t for t in tasks}
    index = {m: {r["task_id"]: r for r in recs} for m, recs in by_method.items()}
    if examples:
        lines += ["## Examples (all methods side by side)", ""]
        lines += [render_example(by_id[t], index) for t in examples]
    markdown = "\n".join(lines)
    data = {
        "finished": finished,
        "settings": settings,
        "data": data_stats,
        "training": training,
        "summary": summary,
        "orderings": order,
        "examples": examples,
    }
    write_report(out_dir, "report", data, markdown)
    return markdown
