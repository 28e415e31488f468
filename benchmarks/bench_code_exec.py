"""Sandbox throughput: traced programs/s through the worker pool vs a new sandbox process per
program vs untraced execution in the same pool. Writes benchmarks/results/code_exec.json."""

from __future__ import annotations

import json
import os
import platform
import time

from code_exec import Sandbox, SandboxConfig
from code_exec.synthetic import GENERATORS, program_rng

N_POOL, N_FRESH = 300, 30


def programs(n: int) -> list[str]:
    return [GENERATORS["tutorial"](program_rng(7, "tutorial", i)) for i in range(n)]


def rate(fn, n: int) -> float:
    start = time.perf_counter()
    fn()
    return n / (time.perf_counter() - start)


def main() -> None:
    config = SandboxConfig()
    sources = programs(N_POOL)
    with Sandbox(config, pool_size=2) as box:
        box.start()
        box.map(sources[:10], show_progress=False)  # warm-up
        traced = rate(lambda: box.map(sources, show_progress=False), N_POOL)
        untraced = rate(lambda: box.map(sources, trace=False, show_progress=False), N_POOL)

    def fresh() -> None:
        for source in sources[:N_FRESH]:
            with Sandbox(config, pool_size=1) as one:
                one.run(source)

    per_program = rate(fresh, N_FRESH)
    result = {
        "programs_per_s": {
            "pool_traced": round(traced, 1),
            "pool_untraced": round(untraced, 1),
            "new_process_per_program_traced": round(per_program, 1),
        },
        "ratios": {
            "pool_vs_new_process": round(traced / per_program, 2),
            "traced_vs_untraced": round(traced / untraced, 2),
        },
        "target_pool_traced_per_s": 100,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_avg": os.getloadavg(),
        },  # fmt: skip
    }
    os.makedirs("benchmarks/results", exist_ok=True)
    with open("benchmarks/results/code_exec.json", "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
