"""``lowrank-sparse reproduce``: both claims at small scale, method vs baselines, N seeds.

LoSparse section: all-MiniLM-L6-v2 compressed to each budget by every arm and distilled for
the same steps (:mod:`lowrank_sparse.experiment`). DSEE section: full fine-tuning, head only,
DSEE and head-pruned DSEE on the negation-sentiment task (:mod:`lowrank_sparse.dsee.experiment`).
``reports/lowrank-sparse.{json,md}`` are rewritten after every finished arm, so a killed run
keeps what it finished.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from lmlab_common import get_logger, load_minilm, markdown_table, mean_std, write_report

from .dsee.experiment import ClaimSettings, run_claim
from .experiment import ARMS, run_arm

log = get_logger(__name__)
NAME = "lowrank-sparse"
SECTIONS = ("losparse", "dsee")
DSEE_ARMS = ("full", "head", "dsee")


def reproduce(
    out_dir: str = "reports",
    seeds: int = 3,
    budgets: Sequence[float] = (0.1, 0.2, 0.3),
    arms: Sequence[str] = ARMS,
    steps: int = 150,
    batch_size: int = 16,
    lr: float = 1e-4,
    sections: Sequence[str] = SECTIONS,
    dsee_steps: int = 100,
    dsee_prune_steps: int = 20,
    dsee_context: float = 0.0,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Run the sections for seeds ``0..seeds-1``; write the report after every arm."""
    for section in sections:
        if section not in SECTIONS:
            raise ValueError(f"sections={list(sections)!r} is invalid; allowed: {SECTIONS}")
    for arm in arms:
        if arm not in ARMS:
            raise ValueError(f"arms={list(arms)!r} is invalid; allowed: {ARMS}")
    start = time.perf_counter()
    data: dict[str, Any] = {
        "settings": {
            "seeds": list(range(seeds)),
            "budgets": list(budgets),
            "arms": list(arms),
            "steps": steps,
            "batch_size": batch_size,
            "lr": lr,
            "sections": list(sections),
            "dsee_steps": dsee_steps,
            "dsee_prune_steps": dsee_prune_steps,
            "dsee_context": dsee_context,
        },
        "losparse_runs": [],
        "dsee_runs": [],
    }

    def save() -> None:
        data["seconds"] = time.perf_counter() - start
        data["losparse_summary"] = _losparse_summary(data["losparse_runs"])
        data["dsee_summary"] = _dsee_summary(data["dsee_runs"])
        write_report(out_dir, NAME, data, _markdown(data))

    if "losparse" in sections:
        teacher, tokenizer = load_minilm()
        for budget in budgets:
            for seed in range(seeds):
                for arm in arms:
                    res = run_arm(arm, budget=budget, steps=steps, batch_size=batch_size, lr=lr,
                                  seed=seed, teacher=teacher, tokenizer=tokenizer,
                                  show_progress=show_progress)  # fmt: skip
                    log.info("%s budget=%.2f seed=%d cosine=%.4f", arm, budget, seed, res.cosine)
                    data["losparse_runs"].append(res.to_dict())
                    save()
    if "dsee" in sections:
        for seed in range(seeds):
            settings = ClaimSettings(
                steps=dsee_steps, prune_steps=dsee_prune_steps, seed=seed, context=dsee_context
            )
            for arm in DSEE_ARMS:
                result = run_claim(settings, (arm,))
                log.info("DSEE %s seed=%d accuracy=%s", arm, seed, result.accuracy)
                run = result.to_dict()
                run.update(arm=arm, seed=seed)
                data["dsee_runs"].append(run)
                save()
    save()
    return data


def _losparse_summary(runs: list[dict]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for run in runs:
        key = f"{run['arm']}@{run['budget']:g}"
        out.setdefault(key, {"arm": run["arm"], "budget": run["budget"], "cos": [], "ratio": []})
        out[key]["cos"].append(run["cosine"])
        out[key]["ratio"].append(run["ratio"])
    return {
        k: {
            "arm": v["arm"],
            "budget": v["budget"],
            "cosine": mean_std(v["cos"]).to_dict(),
            "ratio": mean_std(v["ratio"]).mean,
        }  # fmt: skip
        for k, v in out.items()
    }


def _dsee_summary(runs: list[dict]) -> dict[str, dict]:
    acc: dict[str, list[float]] = {}
    frac: dict[str, float] = {}
    macs: list[float] = []
    for run in runs:
        for arm, value in run["accuracy"].items():
            acc.setdefault(arm, []).append(value)
        frac.update(run["trainable_fraction"])
        if run["arm"] == "dsee" and run["macs_saved_by_heads"]:
            macs.append(run["macs_saved_by_heads"])
    out = {
        arm: {
            "accuracy": mean_std(v).to_dict(),
            "trainable_fraction": frac.get(arm.split("_pruned")[0]),
        }
        for arm, v in acc.items()
    }
    if macs:
        out["macs_saved_by_heads"] = mean_std(macs).to_dict()
    return out


def _cell(summary: dict) -> str:
    from lmlab_common import MeanStd

    return MeanStd(**summary).format(digits=3)


def _markdown(data: dict[str, Any]) -> str:
    s = data["settings"]
    lines = ["# lowrank-sparse: LoSparse and DSEE claims at small scale", ""]
    if data["losparse_runs"]:
        arms = [a for a in s["arms"] if any(r["arm"] == a for r in data["losparse_runs"])]
        rows = []
        for budget in s["budgets"]:
            cells = []
            for arm in arms:
                row = data["losparse_summary"].get(f"{arm}@{budget:g}")
                cells.append(f"{_cell(row['cosine'])} [{row['ratio']:.3f}]" if row else "—")
            rows.append([f"{budget:.0%}", *cells])
        lines += [
            "## LoSparse vs baselines at equal parameter budget",
            "",
            "all-MiniLM-L6-v2, its 36 encoder matrices compressed to the budget, each arm "
            f"distilled for {s['steps']} steps (batch {s['batch_size']}, lr {s['lr']}) to the "
            "original's mean-pooled embeddings on real English sentences. Cells: held-out mean "
            "cosine to the original, mean ± sample sd over seeds [kept parameter ratio].",
            "",
            markdown_table(["budget", *arms], rows),
            "",
        ]
    if data["dsee_runs"]:
        summary = data["dsee_summary"]
        rows = [
            [arm, _cell(v["accuracy"]),
             f"{100 * v['trainable_fraction']:.3f}%" if v["trainable_fraction"] else "—"]
            for arm, v in summary.items() if arm != "macs_saved_by_heads"
        ]  # fmt: skip
        lines += [
            "## DSEE vs full fine-tuning and head only",
            "",
            f"all-MiniLM-L6-v2 on the seeded negation-sentiment task (context {s['dsee_context']}),"
            f" {s['dsee_steps']} steps per arm; dsee_pruned: 3 of 12 heads per layer removed, "
            f"then {s['dsee_prune_steps']} steps. Test accuracy, mean ± sample sd over seeds.",
            "",
            markdown_table(["arm", "test accuracy", "trainable"], rows),
            "",
        ]
        if "macs_saved_by_heads" in summary:
            macs = _cell(summary["macs_saved_by_heads"])
            lines += [f"Linear MACs per token removed by head pruning: {macs}.", ""]
    lines.append(f"Run time: {data.get('seconds', 0):.0f} s.")
    return "\n".join(lines)


__all__ = ["reproduce"]
