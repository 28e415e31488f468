"""CPU latency of LoSparse layers vs dense, at the 20% budget (ratios from one run).

Per shape (d_in x d_out) and input (batch x tokens): dense ``nn.Linear``; compact LoSparse
(``compact(kernel="fused")``: one GEMM over [R; S_k] + index_add); the official compact form
(``compact(kernel="scatter")``: x R^T L^T plus x S_k^T scattered into a zero buffer, the same
storage); LR + dense S (the training form); low-rank only. Then the whole all-MiniLM-L6-v2
encoder dense vs compact LoSparse with both kernels (if the model package is installed).
Writes benchmarks/results/bench_lowrank_sparse.json with the machine record.

    uv run --package lowrank-sparse python benchmarks/bench_lowrank_sparse.py [--quick]
"""

from __future__ import annotations

import argparse
import copy
import os
import time

import torch
from lmlab_common import atomic_write_json, environment
from lowrank_sparse import LoSparseLinear, rank_from_ratio
from torch import nn
from torch.utils import benchmark

SHAPES = [(384, 384), (384, 1536), (768, 3072), (4096, 4096)]
INPUTS = [(1, 1), (8, 128)]
BUDGET, RHO = 0.2, 0.05


def timeit(fn, min_run_time):
    t = benchmark.Timer(stmt="fn()", globals={"fn": fn}).blocked_autorange(
        min_run_time=min_run_time
    )
    return t.median


def bench_layer(d_in, d_out, batch, tokens, min_run_time):
    torch.manual_seed(0)
    dense = nn.Linear(d_in, d_out)
    r = rank_from_ratio(RHO, d_out, d_in)
    k = int((BUDGET * d_out * d_in - r * (d_in + d_out)) // d_in)
    layer = LoSparseLinear.from_linear(dense, rank=r)
    mask = torch.zeros(d_out, dtype=torch.bool)
    mask[torch.randperm(d_out)[:k]] = True
    layer.set_keep_mask(mask)
    training_form = LoSparseLinear.from_linear(dense, rank=r)
    lr_only = LoSparseLinear.from_linear(
        dense, rank=int(BUDGET * d_out * d_in // (d_in + d_out)), has_sparse=False
    )
    compact = copy.deepcopy(layer)
    compact.compact("fused")
    scatter = copy.deepcopy(layer)
    scatter.compact("scatter")
    x = torch.randn(batch, tokens, d_in)
    with torch.inference_mode():
        torch.testing.assert_close(compact(x), scatter(x), atol=1e-3, rtol=1e-3)
        times = {
            "dense": timeit(lambda: dense(x), min_run_time),
            "losparse_compact": timeit(lambda: compact(x), min_run_time),
            "official_scatter": timeit(lambda: scatter(x), min_run_time),
            "lr_plus_dense_s": timeit(lambda: training_form(x), min_run_time),
            "low_rank_only": timeit(lambda: lr_only(x), min_run_time),
        }
    return {
        "d_in": d_in,
        "d_out": d_out,
        "batch": batch,
        "tokens": tokens,
        "rank": r,
        "kept_rows": k,
        "seconds": times,
        "speedup_vs_dense": {n: times["dense"] / t for n, t in times.items()},
        "compact_vs_official": times["official_scatter"] / times["losparse_compact"],
    }


def bench_minilm(min_run_time):
    try:
        from lmlab_common import minilm_path
        from transformers import AutoModel

        path = minilm_path()
    except (ModuleNotFoundError, FileNotFoundError):
        return None
    from lowrank_sparse import LoSparsePruner, apply_losparse, budget_config, compact

    dense = AutoModel.from_pretrained(path).eval()
    model = AutoModel.from_pretrained(path).eval()
    apply_losparse(model, budget_config(BUDGET, importance="magnitude", warmup_steps=1))
    LoSparsePruner(model, total_steps=5).finalize()  # one-shot |S| row pruning to 20%
    compact(model)
    scatter = compact(copy.deepcopy(model), kernel="scatter")
    out = {}
    for batch, tokens in [(1, 16), (8, 128)]:
        ids = torch.randint(1000, 2000, (batch, tokens))
        with torch.inference_mode():  # interleaved: dense, fused, scatter
            td = timeit(lambda ids=ids: dense(input_ids=ids), min_run_time)
            tc = timeit(lambda ids=ids: model(input_ids=ids), min_run_time)
            ts = timeit(lambda ids=ids: scatter(input_ids=ids), min_run_time)
        out[f"{batch}x{tokens}"] = {
            "dense": td,
            "losparse_compact": tc,
            "official_scatter": ts,
            "speedup": td / tc,
            "speedup_scatter": td / ts,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short timing runs")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    mrt = 0.05 if args.quick else 0.3
    start = time.time()
    layers = []
    for d_in, d_out in SHAPES:
        for batch, tokens in INPUTS:
            res = bench_layer(d_in, d_out, batch, tokens, mrt)
            s = res["speedup_vs_dense"]
            print(
                f"{d_in}x{d_out} {batch}x{tokens}: compact {s['losparse_compact']:.2f}x dense, "
                f"official {s['official_scatter']:.2f}x, LR+dense S {s['lr_plus_dense_s']:.2f}x, "
                f"compact/official {res['compact_vs_official']:.2f}x",
                flush=True,
            )
            layers.append(res)
    encoder = bench_minilm(mrt)
    if encoder:
        for key, v in encoder.items():
            print(
                f"MiniLM encoder {key}: compact LoSparse {v['speedup']:.2f}x dense, "
                f"official scatter {v['speedup_scatter']:.2f}x"
            )
    result = {
        "benchmark": "lowrank_sparse",
        "budget": BUDGET,
        "low_rank_ratio": RHO,
        "layers": layers,
        "minilm_encoder": encoder,
        "seconds": time.time() - start,
        "machine": environment() | {"load_average": os.getloadavg()},
    }
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "bench_lowrank_sparse.json")
    atomic_write_json(path, result)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
