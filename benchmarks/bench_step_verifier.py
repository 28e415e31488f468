"""step-verifier benchmark: batched path sampling vs one-by-one, and verifier scoring.

Interleaved in one run (so load affects both sides alike): paths/s of ``sample_paths`` (one
``generate`` per batch of contexts with ``num_return_sequences``) vs one ``generate`` per path,
on the same tiny GPT-2 (2×64) and the synthetic task; verifier (BERT 2×64) scoring paths/s at
batch 64 vs batch 1. Writes ``benchmarks/results/bench_step_verifier.json``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from lmlab_common import atomic_write_json, environment, tiny_causal_lm, tiny_encoder
from step_verifier import StepAwareVerifier, SyntheticTask, VerifierConfig, synthetic_tokenizer
from step_verifier.prompting import sample_paths

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def one_by_one(model, tok, questions, n, max_new_tokens):
    """The naive loop: one ``generate`` call per path."""
    paths = []
    for i, q in enumerate(questions):
        for j in range(n):
            paths += sample_paths(model, tok, [q], [""], 1, 1.0, max_new_tokens, 1,
                                  seed=i * n + j, show_progress=False)[0]  # fmt: skip
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("--paths", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    tok = synthetic_tokenizer()
    task = SyntheticTask(seed=0)
    problems = task.problems(args.questions, paths=args.paths)
    questions = [p.question for p in problems]
    gen = tiny_causal_lm("gpt2", vocab_size=len(tok), hidden_size=64, num_layers=2, num_heads=2,
                         max_position_embeddings=160, seed=0)  # fmt: skip
    enc = tiny_encoder("bert", "token_classification", vocab_size=len(tok), hidden_size=64,
                       num_layers=2, num_heads=2, num_labels=5, seed=0)  # fmt: skip
    verifier = StepAwareVerifier(enc, tok, VerifierConfig(max_length=128))
    flat_q = [p.question for p in problems for _ in p.paths]
    flat = [x for p in problems for x in p.paths]
    total = args.questions * args.paths
    times: dict[str, list[float]] = {k: [] for k in ("batched", "one_by_one", "score64", "score1")}
    for r in range(args.repeats):  # interleaved
        t = time.perf_counter()
        sample_paths(gen, tok, questions, [""], args.paths, 1.0, 40, 16, seed=r,
                     show_progress=False)  # fmt: skip
        times["batched"].append(time.perf_counter() - t)
        t = time.perf_counter()
        one_by_one(gen, tok, questions, args.paths, 40)
        times["one_by_one"].append(time.perf_counter() - t)
        t = time.perf_counter()
        verifier.score(flat_q, flat, batch_size=64, show_progress=False)
        times["score64"].append(time.perf_counter() - t)
        t = time.perf_counter()
        verifier.score(flat_q, flat, batch_size=1, show_progress=False)
        times["score1"].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "paths": total,
        "sampling_paths_per_s": {
            "batched": total / med["batched"],
            "one_by_one": total / med["one_by_one"],
        },  # fmt: skip
        "sampling_speedup": med["one_by_one"] / med["batched"],
        "scoring_paths_per_s": {
            "batch_64": total / med["score64"],
            "batch_1": total / med["score1"],
        },
        "scoring_speedup": med["score1"] / med["score64"],
        "seconds": times,
        "threads": torch.get_num_threads(),
        "environment": environment(),
        "note": "timings measured interleaved; machine load at run time not controlled",
    }
    os.makedirs(OUT, exist_ok=True)
    atomic_write_json(os.path.join(OUT, "bench_step_verifier.json"), result)
    print({k: result[k] for k in ("sampling_paths_per_s", "sampling_speedup",
                                  "scoring_paths_per_s", "scoring_speedup")})  # fmt: skip


if __name__ == "__main__":
    main()
