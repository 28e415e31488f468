"""Sandbox throughput and the cost of each protection layer.

Traced programs/s through a pool of 2 workers with every layer on (target: >= 100/s), then
the same pool with one layer switched off at a time (Landlock, seccomp, private tmpfs,
namespaces + uid drop, Python guards) and with all kernel layers off. The configurations are
measured interleaved, round after round, so a load change on a shared machine hits them all
alike; each layer's cost is reported as a ratio of rates. Also untraced execution and a new
sandbox per program. Writes benchmarks/results/bench_code_exec.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from code_exec import Sandbox, SandboxConfig
from code_exec.generators import GENERATORS, program_rng
from lmlab_common import atomic_write_json, environment

CONFIGS = {
    "all_layers": {},
    "without_landlock": {"landlock": False},
    "without_seccomp": {"seccomp": False},
    "without_private_tmp": {"private_tmp": False},
    "without_namespaces_and_uid_drop": {"isolation": "process", "drop_privileges": False},
    "without_guards": {"in_child_guards": False},
    "no_kernel_layers": {"landlock": False, "seccomp": False, "private_tmp": False},
}


def programs(n: int) -> list[str]:
    return [GENERATORS["tutorial"](program_rng(7, "tutorial", i)) for i in range(n)]


def rate(fn, n: int) -> float:
    start = time.perf_counter()
    fn()
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--programs", type=int, default=200, help="programs per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fresh", type=int, default=20, help="programs for new-sandbox runs")
    parser.add_argument("--out", default="benchmarks/results/bench_code_exec.json")
    args = parser.parse_args()
    sources = programs(args.programs)
    boxes = {name: Sandbox(SandboxConfig(**kw), pool_size=2) for name, kw in CONFIGS.items()}
    rates: dict[str, list[float]] = {name: [] for name in CONFIGS}
    untraced: list[float] = []
    try:
        for box in boxes.values():
            box.start()
            box.map(sources[:10], show_progress=False)  # warm-up
        layers = {name: list(box.layers) for name, box in boxes.items()}
        statuses = [t.status for t in boxes["all_layers"].map(sources, show_progress=False)]
        for _ in range(args.rounds):
            for name, box in boxes.items():
                rates[name].append(
                    rate(lambda box=box: box.map(sources, show_progress=False), len(sources))
                )
            run_untraced = lambda: boxes["all_layers"].map(  # noqa: E731
                sources, trace=False, show_progress=False
            )
            untraced.append(rate(run_untraced, len(sources)))
    finally:
        for box in boxes.values():
            box.close()

    def fresh() -> None:
        for source in sources[: args.fresh]:
            with Sandbox(SandboxConfig(), pool_size=1) as one:
                one.run(source)

    per_program = rate(fresh, args.fresh)
    median = {name: statistics.median(values) for name, values in rates.items()}
    full = median["all_layers"]
    result = {
        "programs_per_s_median": {name: round(v, 1) for name, v in median.items()},
        "programs_per_s_rounds": {name: [round(v, 1) for v in vs] for name, vs in rates.items()},
        "pool_untraced_all_layers": round(statistics.median(untraced), 1),
        "new_sandbox_per_program_all_layers": round(per_program, 1),
        # > 1 means the layer costs throughput: rate without it / rate with every layer
        "layer_cost_ratio": {
            name.removeprefix("without_"): round(median[name] / full, 3)
            for name in CONFIGS
            if name != "all_layers"
        },
        "pool_vs_new_sandbox": round(full / per_program, 1),
        "target_pool_traced_per_s": 100,
        "meets_target": full >= 100,
        "statuses_all_layers": {s: statuses.count(s) for s in sorted(set(statuses))},
        "layers_in_force": layers,
        "load_avg": os.getloadavg(),
        "machine": environment(),
    }
    atomic_write_json(args.out, result)
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=2))


if __name__ == "__main__":
    main()
