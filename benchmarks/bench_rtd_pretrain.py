"""Cost of one RTD training step vs a plain MLM step of the discriminator-sized model.

RTD step = half-depth generator (MLM) + sampling + discriminator (RTD head) + backward +
AdamW step, for each sharing mode; MLM step = ``DebertaV2ForMaskedLM`` with the
discriminator's config. Arms are interleaved round by round so machine load hits all alike.
Target (issue 14): RTD ≤ 1.6× the MLM step time. Writes benchmarks/results/bench_rtd_pretrain.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from lmlab_common import atomic_write_json, environment
from rtd_pretrain import RTDModel, build_generator, mask_tokens
from rtd_pretrain.experiment import discriminator_config

OUT = os.path.join(os.path.dirname(__file__), "results", "bench_rtd_pretrain.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=8000)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=OUT)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    heads = max(1, args.hidden // 64)
    cfg = discriminator_config(
        "deberta", args.vocab, args.hidden, args.layers, num_heads=heads, max_positions=args.seq
    )
    ids = torch.randint(5, args.vocab, (args.batch, args.seq))
    attn = torch.ones_like(ids)
    masked, labels = mask_tokens(ids, torch.ones_like(ids, dtype=torch.bool), 4)

    arms = {"mlm": build_generator(cfg).train()}
    for sharing in ("nes", "es", "gdes"):
        arms[f"rtd-{sharing}"] = RTDModel.from_discriminator_config(cfg, sharing=sharing).train()
    opts = {k: torch.optim.AdamW(m.parameters(), lr=1e-4) for k, m in arms.items()}

    def step(name: str) -> float:
        model, opt = arms[name], opts[name]
        start = time.perf_counter()
        out = model(input_ids=masked, attention_mask=attn, labels=labels)
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return time.perf_counter() - start

    for name in arms:  # warm-up
        step(name)
    times: dict[str, list[float]] = {k: [] for k in arms}
    for _ in range(args.rounds):
        for name in arms:
            times[name].append(step(name))
    tokens = args.batch * args.seq
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "shape": vars(args),
        "median_step_seconds": med,
        "tokens_per_second": {k: tokens / v for k, v in med.items()},
        "ratio_to_mlm_step": {k: v / med["mlm"] for k, v in med.items()},
        "target_ratio": 1.6,
        "parameters": {k: sum(p.numel() for p in m.parameters()) for k, m in arms.items()},
        "environment": environment(),
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    atomic_write_json(args.out, result)
    for k in arms:
        print(f"{k:9s} {tokens / med[k]:9.0f} tok/s  {med[k] / med['mlm']:.2f}x MLM step")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
