"""``compress-embedder aggregate``: mean ± sd over runs that differ only in their seed.

Each ``run`` or ``sweep`` report is one seed; this reads several ``report.json`` files, checks
that they measured the same thing (every setting equal except the seed and the output folder),
and writes one table of every row's quality as mean ± sd (sample sd, n shown)."""

from __future__ import annotations

import json
import os

from lmlab_common import markdown_table, mean_std, write_report

# settings that may differ between the seeds of one experiment
FREE = {"seed", "out_dir", "overwrite", "threads", "train_seconds", "final_loss", "total_seconds"}
FREE |= {"reload_max_abs_diff", "latency_repeats"}
METRICS = [("mean_cosine", "cosine"), ("spearman", "Spearman"), ("top1_overlap", "top-1")]


def _load(path: str) -> dict:
    file = os.path.join(path, "report.json") if os.path.isdir(path) else path
    if not os.path.isfile(file):
        raise ValueError(f"reports={path!r} is invalid; allowed: a run folder or its report.json")
    with open(file) as f:
        return json.load(f)


def aggregate(paths: list[str], out_dir: str | None = None) -> str:
    """Markdown table (model, n, disk MB, then cosine / Spearman / top-1 as mean ± sd) over
    the reports at ``paths``; written as ``aggregate.md/json`` into ``out_dir`` if given.

    Raises ``ValueError`` naming the setting when two reports differ in more than the seed,
    or when two reports have the same seed."""
    if len(paths) < 2:
        raise ValueError(f"reports={paths!r} is invalid; allowed: two or more run folders")
    reports = [_load(p) for p in paths]
    first = reports[0]["settings"]
    for path, report in zip(paths[1:], reports[1:], strict=True):
        settings = report["settings"]
        for key in sorted((set(first) | set(settings)) - FREE):
            if first.get(key) != settings.get(key):
                raise ValueError(
                    f"reports={path!r} is invalid: setting {key!r} is {settings.get(key)!r} "
                    f"there but {first.get(key)!r} in {paths[0]!r}; allowed: runs that differ "
                    "only in their seed"
                )
    seeds = [r["settings"]["seed"] for r in reports]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"reports={paths!r} is invalid: seeds {seeds}; allowed: distinct seeds")
    by_name: dict[str, list[dict]] = {}
    for report in reports:
        for row in report["rows"]:
            by_name.setdefault(row["name"], []).append(row)
    table, data = [], {}
    for name, rows in by_name.items():
        stats = {key: mean_std(r[key] for r in rows) for key, _ in METRICS}
        data[name] = {key: s.to_dict() for key, s in stats.items()}
        cells = [s.format(digits=3).replace(f" (n={s.n})", "") for s in stats.values()]
        table.append([name, len(rows), f"{rows[0]['disk_mb']:.1f}", *cells])
    header = ["model", "n", "disk MB", *(title for _, title in METRICS)]
    text = (
        f"Seeds {', '.join(map(str, seeds))}: mean ± sample sd over runs with equal settings.\n\n"
        + markdown_table(header, table)
    )
    if out_dir is not None:
        write_report(out_dir, "aggregate", {"seeds": seeds, "paths": paths, "rows": data}, text)
    return text
