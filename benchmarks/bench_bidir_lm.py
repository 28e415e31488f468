"""bidir-lm benchmark: MIM training cost vs a single-direction LM, and infilling latency of
meet-in-the-middle vs left-to-right decoding of the same middle length.

Interleaved repeats on fixed shapes; JSON in benchmarks/results/bench_bidir_lm.json.
usage: python benchmarks/bench_bidir_lm.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch
from bidir_lm import BidirectionalLM, toy_tokenizer
from bidir_lm.decoding import Stepper, score_rows
from lmlab_common import atomic_write_json, environment, tiny_causal_lm

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def build(hidden: int, layers: int, heads: int, context: int) -> BidirectionalLM:
    tok = toy_tokenizer()
    lm = tiny_causal_lm(
        "gpt2",
        vocab_size=len(tok) + 6,
        hidden_size=hidden,
        num_layers=layers,
        num_heads=heads,
        max_position_embeddings=context,
        seed=0,
    )
    return BidirectionalLM.from_causal_lm(lm, tok)


def train_step_seconds(model, objective, ids, mask, opt) -> float:
    start = time.perf_counter()
    out = model(ids, mask, objective=objective, beta=1.0)
    out["loss"].backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def decode_seconds(model, method, prefix_len, suffix_len, middle, batch) -> float:
    """L2R: ``middle`` steps on ``batch`` rows. MIM: ceil(middle/2) steps on 2·batch rows
    (both sides in one batch) plus one batched two-direction check of the junction."""
    cfg = model.bidir_config
    g = torch.Generator().manual_seed(0)
    vocab = 30
    pre = torch.randint(5, vocab, (batch, prefix_len), generator=g).tolist()
    suf = torch.randint(5, vocab, (batch, suffix_len), generator=g).tolist()
    start = time.perf_counter()
    with torch.no_grad():
        if method == "l2r":
            st = Stepper(model.forward_model, [[cfg.forward_token_id, *p] for p in pre], 0)
            logits = st.start()
            for _ in range(middle - 1):
                logits = st.step(logits.argmax(-1))
        else:
            rows = [[cfg.forward_token_id, *p] for p in pre]
            rows += [[cfg.backward_token_id, *s[::-1]] for s in suf]
            st = Stepper(model.forward_model, rows, 0)
            logits = st.start()
            for _ in range((middle + 1) // 2 - 1):
                logits = st.step(logits.argmax(-1))
            mid = [5] * middle
            check = [[cfg.forward_token_id, *p, *mid, s[0]] for p, s in zip(pre, suf, strict=True)]
            check += [
                [cfg.backward_token_id, *s[::-1], *mid, p[-1]]
                for p, s in zip(pre, suf, strict=True)
            ]
            score_rows(
                model.forward_model, check, [1 + prefix_len] * batch + [1 + suffix_len] * batch, 0
            )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    hidden, layers, heads, context = 128, 4, 4, 256
    model = build(hidden, layers, heads, context)
    torch.manual_seed(0)
    batch, length = 16, 128
    ids = torch.randint(5, 30, (batch, length))
    mask = torch.ones_like(ids)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    for objective in ("l2r", "mim"):  # warm-up
        train_step_seconds(model, objective, ids, mask, opt)
    times = {"l2r": [], "mim": []}
    for _ in range(repeats):
        for objective in ("l2r", "mim"):
            times[objective].append(train_step_seconds(model, objective, ids, mask, opt))
    med = {k: statistics.median(v) for k, v in times.items()}
    training = {
        "shape": {"batch": batch, "tokens_per_row": length, "hidden": hidden, "layers": layers},
        "l2r_tokens_per_s": batch * length / med["l2r"],
        "mim_tokens_per_s": batch * length / med["mim"],
        "mim_cost_ratio": med["mim"] / med["l2r"],
        "target_ratio": 2.1,
    }
    model.eval()
    latency = {}
    for middle in (16, 64):
        rows = {"l2r": [], "mim": []}
        for method in ("l2r", "mim"):  # warm-up
            decode_seconds(model, method, 32, 32, middle, 8)
        for _ in range(repeats):
            for method in ("l2r", "mim"):
                rows[method].append(decode_seconds(model, method, 32, 32, middle, 8))
        m = {k: statistics.median(v) for k, v in rows.items()}
        latency[f"middle_{middle}"] = {
            "l2r_ms": 1000 * m["l2r"],
            "mim_ms": 1000 * m["mim"],
            "mim_over_l2r": m["mim"] / m["l2r"],
            "batch": 8,
        }
    result = {
        "training": training,
        "infill_latency": latency,
        "repeats": repeats,
        "environment": environment(),
        "load_average": os.getloadavg(),
    }
    os.makedirs(OUT, exist_ok=True)
    atomic_write_json(os.path.join(OUT, "bench_bidir_lm.json"), result)
    print(json.dumps({"training": training, "infill_latency": latency}, indent=2))


if __name__ == "__main__":
    main()
