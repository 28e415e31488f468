"""llm-annotate throughput against a fake OpenAI-compatible server with a fixed latency.

The server runs in its own process. For concurrency 1, 8 and 32: items/s of a full annotation
run (prompt building, HTTP, SQLite cache, JSONL append) and of the bare backend, as a fraction
of the ideal concurrency/latency.
Target: >= 90% of ideal at concurrency 8, >= 80% at 32 (idle machine).
Writes benchmarks/results/bench_llm_annotate.json.

    python benchmarks/bench_llm_annotate.py [--latency 0.1] [--seconds 2]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time

from llm_annotate import (
    AnnotateConfig,
    Annotator,
    OpenAICompatibleBackend,
    prepare_items,
    task_from_dict,
)
from lmlab_common import atomic_write_json, environment

TASK = {
    "name": "bench",
    "instruction": "Is the review positive or negative?",
    "input_fields": {"text": "Review"},
    "labels": {"positive": ["positive"], "negative": ["negative"]},
    "demonstrations": [{"text": "Great.", "label": "positive"}],
}


@contextlib.contextmanager
def fake_server_process(latency: float):
    """The fake server in its own process, so its threads do not share our GIL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "llm_annotate.fake_server", "--port", "0",
         "--latency", str(latency), "--answer", " positive"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = proc.stdout.readline()
        yield line.split("serving on ", 1)[1].strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def bench(concurrency: int, latency: float, seconds: float) -> dict:
    n_items = max(8, int(seconds * concurrency / latency))
    task = task_from_dict(TASK)
    with fake_server_process(latency) as base_url:
        backend = OpenAICompatibleBackend(base_url, "fake", concurrency=concurrency)
        backend.check()
        # bare backend: prompts straight through the HTTP client
        prompts = [f"prompt {i}" for i in range(n_items)]
        start = time.perf_counter()
        gens = backend.generate(prompts, max_tokens=4)
        bare = time.perf_counter() - start
        assert all(g.ok for g in gens)
        # full pipeline: annotator with cache and JSONL output
        items = prepare_items([{"text": f"review {i}"} for i in range(n_items)], task)
        with tempfile.TemporaryDirectory() as tmp:
            annotator = Annotator(
                task, backend, AnnotateConfig(mode="zero_shot"), os.path.join(tmp, "c.sqlite")
            )
            summary = annotator.run(items, os.path.join(tmp, "out.jsonl"), progress=False)
            annotator.close()
        backend.close()
    ideal = concurrency / latency
    return {
        "concurrency": concurrency,
        "items": n_items,
        "ideal_items_per_s": ideal,
        "bare_items_per_s": n_items / bare,
        "bare_fraction_of_ideal": n_items / bare / ideal,
        "annotate_items_per_s": summary.items_per_second,
        "annotate_fraction_of_ideal": summary.items_per_second / ideal,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--seconds", type=float, default=2.0, help="target duration per run")
    parser.add_argument("--out", default="benchmarks/results/bench_llm_annotate.json")
    args = parser.parse_args()
    rows = [bench(c, args.latency, args.seconds) for c in (1, 8, 32)]
    result = {
        "benchmark": "llm_annotate throughput vs fake server",
        "latency_s": args.latency,
        "environment": environment(),
        "load_avg": os.getloadavg(),
        "rows": rows,
        "target_fraction_of_ideal": {"1": 0.9, "8": 0.9, "32": 0.8},
    }
    atomic_write_json(args.out, result)
    header = ("conc", "items", "ideal/s", "bare/s", "bare%", "run/s", "run%")
    print(" ".join(f"{h:>8}" for h in header))
    for r in rows:
        print(
            f"{r['concurrency']:>8} {r['items']:>8} {r['ideal_items_per_s']:>8.1f} "
            f"{r['bare_items_per_s']:>8.1f} {100 * r['bare_fraction_of_ideal']:>7.1f}% "
            f"{r['annotate_items_per_s']:>8.1f} {100 * r['annotate_fraction_of_ideal']:>7.1f}%"
        )


if __name__ == "__main__":
    main()
