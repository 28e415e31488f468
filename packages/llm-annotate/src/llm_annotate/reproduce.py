"""The paper's comparison on the bundled QK-style set, against any backend.

zero-shot vs few-shot vs explain-then-annotate (AnnoLLM), each under three paraphrased
templates; template stability = spread of accuracy over the templates. AnnoLLM's claims
(CoT from self-generated explanations beats plain few-shot and is steadier across templates)
need a capable LLM: a tiny or scripted backend only exercises the mechanics.
"""

from __future__ import annotations

import os
import random
import statistics
from importlib import resources
from typing import Any

from lmlab_common import MeanStd, markdown_table, mean_std, require_int, write_report

from .annotate import Annotator
from .backends import Backend, BackendError
from .config import AnnotateConfig
from .data import load_items, prepare_items
from .metrics import Prices, agreement, evaluate
from .prompts import TEMPLATES
from .store import read_jsonl
from .task import Demonstration, TaskSpec, load_task

REPRO_MODES = ("zero_shot", "few_shot", "cot")


def bundled_task_path() -> str:
    return str(resources.files("llm_annotate") / "resources" / "qk_task.yaml")


def bundled_data_path() -> str:
    return str(resources.files("llm_annotate") / "resources" / "qk_data.jsonl")


def bundled_task() -> TaskSpec:
    return load_task(bundled_task_path())


def _shuffled(task: TaskSpec, seed: int) -> list[Demonstration]:
    """The task's demonstrations in the order of ``seed`` (seed 0: the file's order)."""
    demos = list(task.demonstrations)
    if seed:
        random.Random(seed).shuffle(demos)
    return demos


def run_comparison(
    backend: Backend,
    out_dir: str | os.PathLike = "reports",
    *,
    modes: tuple[str, ...] = REPRO_MODES,
    templates: tuple[str, ...] = tuple(TEMPLATES),
    limit: int | None = None,
    prices: Prices | None = None,
    progress: bool | None = None,
    seeds: int = 1,
    cache: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Run every (template, mode, seed), write ``reports/llm-annotate.{json,md}`` after each
    arm (``lmlab_common.write_report``); return the report.

    A seed is an order of the demonstrations (seed 0 keeps the task's order): few-shot
    prompts are known to be sensitive to it, so ``mean ± sd`` over seeds measures it.
    ``cache``: the SQLite cache file (default: ``<out_dir>/llm-annotate/cache.sqlite``); a
    cache shared between output folders serves every answer it holds without a call."""
    require_int("seeds", seeds, low=1)
    out_dir = os.fspath(out_dir)
    work = os.path.join(out_dir, "llm-annotate")
    task = bundled_task()
    items = prepare_items(load_items(bundled_data_path()), task)[:limit]
    ids = {i["__id"] for i in items}
    cache = os.fspath(cache) if cache is not None else os.path.join(work, "cache.sqlite")
    arms: dict[str, dict[str, dict[str, Any]]] = {}
    runs: dict[tuple[str, str], list[dict]] = {}
    for template in templates:
        for mode in modes:
            per_seed: list[dict[str, Any]] = []
            for seed in range(seeds):
                config = AnnotateConfig(mode=mode, template=template)
                annotator = Annotator(task, backend, config, cache, _shuffled(task, seed))
                name = f"{mode}.jsonl" if seed == 0 else f"{mode}.seed{seed}.jsonl"
                path = os.path.join(work, template, name)
                try:
                    summary = annotator.run(items, path, progress=progress)
                except BackendError as err:  # e.g. a weak model gives no explanation for a demo
                    per_seed.append({"seed": seed, "error": str(err), "accuracy": 0.0})
                    continue
                finally:
                    annotator.close()
                records = [r for r in read_jsonl(path) if r["id"] in ids]
                if seed == 0:
                    runs[(template, mode)] = records
                report = evaluate(records, prices=prices)
                per_seed.append(
                    {
                        "seed": seed,
                        "accuracy": report.accuracy,
                        "kappa": report.kappa,
                        "coverage": report.coverage,
                        "status": report.status,
                        "usage": report.usage,
                        "calls_this_run": summary.calls,
                    }
                )
            arms.setdefault(mode, {})[template] = _arm(per_seed)
            report = _assemble(task, items, backend, modes, templates, seeds, arms, runs)
            write_report(out_dir, "llm-annotate", report, to_markdown(report))
    return report


def _arm(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """One (mode, template): accuracy mean ± sd over seeds, usage summed, errors kept."""
    acc = mean_std(r["accuracy"] for r in per_seed)
    ok = [r for r in per_seed if "error" not in r]
    arm: dict[str, Any] = {"accuracy": acc.mean, "accuracy_sd": acc.sd, "seeds": per_seed}
    if not ok:
        arm["error"] = per_seed[0]["error"]
        return arm
    arm["coverage"] = statistics.fmean(r["coverage"] for r in ok)
    arm["kappa"] = statistics.fmean(r["kappa"] for r in ok) if ok[0]["kappa"] is not None else None
    arm["status"] = ok[0]["status"]
    arm["usage"] = {
        key: sum(r["usage"][key] for r in ok) for key in ok[0]["usage"] if key != "cost_usd"
    } | {"cost_usd": sum(r["usage"]["cost_usd"] for r in ok)}
    arm["calls_this_run"] = sum(r["calls_this_run"] for r in ok)
    return arm


def _assemble(task, items, backend, modes, templates, seeds, arms, runs) -> dict[str, Any]:
    stability = {}
    for mode, per_template in arms.items():
        # a (mode, template) that could not run scores 0: it labelled nothing
        accs = mean_std(v["accuracy"] for v in per_template.values())
        values = [v["accuracy"] for v in per_template.values()]
        stability[mode] = {
            "mean_accuracy": accs.mean,
            "std_accuracy": accs.sd,  # sample sd over templates
            "n_templates": accs.n,
            "range_accuracy": max(values) - min(values),
        }
    agree = {}
    for template in templates:
        for a, b in (("few_shot", "cot"), ("zero_shot", "cot"), ("zero_shot", "few_shot")):
            if (template, a) in runs and (template, b) in runs:
                agree[f"{template}:{a}~{b}"] = agreement(runs[(template, a)], runs[(template, b)])
    return {
        "task": task.name,
        "items": len(items),
        "backend": backend.identity(),
        "modes": list(modes),
        "templates": list(templates),
        "seeds": seeds,
        "results": arms,
        "template_stability": stability,
        "mode_agreement": agree,
        "note": (
            "AnnoLLM's claim (explain-then-annotate >= few-shot > zero-shot, steadier across "
            "templates) needs a capable LLM; a tiny or scripted backend shows the mechanics only."
        ),
    }


def to_markdown(report: dict[str, Any]) -> str:
    """Tables of what has run so far (partial reports are fine)."""
    done = [m for m in report["modes"] if m in report["results"]]
    templates = report["templates"]
    lines = [
        "# llm-annotate: AnnoLLM comparison",
        "",
        f"Task `{report['task']}`, {report['items']} items, backend `{report['backend']}`, "
        f"{report['seeds']} demonstration order(s) (seeds).",
        "",
    ]
    rows = []
    for mode in done:
        row = report["results"][mode]
        cells = []
        for t in templates:
            v = row.get(t)
            cells.append(
                "—"
                if v is None
                else MeanStd(v["accuracy"], v["accuracy_sd"], len(v["seeds"])).format(digits=3)
            )
        stab = report["template_stability"][mode]
        rows.append([mode, *cells, f"{stab['mean_accuracy']:.3f}", f"{stab['std_accuracy']:.3f}"])
    lines.append(markdown_table(["mode", *templates, "mean", "sd over templates"], rows))
    lines += [
        "",
        "Accuracy against gold per template, mean ± sample sd over seeds; sd over templates = "
        "template (in)stability.",
        "",
    ]
    usage_rows = []
    for mode in done:
        row = [v for v in report["results"][mode].values() if "error" not in v]
        if not row:
            usage_rows.append([mode, "could not run", 0, 0, 0])
            continue
        cov = statistics.fmean(v["coverage"] for v in row)
        calls = sum(v["usage"]["paid_calls"] for v in row)
        pt = sum(v["usage"]["prompt_tokens"] for v in row)
        ct = sum(v["usage"]["completion_tokens"] for v in row)
        usage_rows.append([mode, f"{cov:.3f}", calls, pt, ct])
    header = ["mode", "coverage (mean)", "paid calls", "prompt tokens", "completion tokens"]
    lines.append(markdown_table(header, usage_rows))
    for mode in done:
        for template, v in report["results"][mode].items():
            if "error" in v:
                lines.append(f"- {mode} / {template} could not run: {v['error']}")
    lines += ["", report["note"], ""]
    return "\n".join(lines)
