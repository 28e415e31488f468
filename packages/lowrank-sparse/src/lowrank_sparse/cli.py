"""Command line: ``lowrank-sparse compress|report|reproduce`` and the ``dsee-*`` verbs."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from .dsee.cli import add_dsee_commands

BUDGET_HELP = "fraction of the replaced matrices' parameters kept (LR + kept rows of S)"


def _ratio(text: str) -> float | str:
    return text if text == "auto" else float(text)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; subcommands live in ``parser.subparsers`` so more verbs can be added."""
    parser = argparse.ArgumentParser(
        prog="lowrank-sparse",
        description="LoSparse: compress a transformers model into low-rank + structured sparse "
        "layers (W = LR + S). DSEE: sparse-embedded efficient tuning (dsee-* verbs).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    parser.subparsers = sub

    c = sub.add_parser(
        "compress",
        help="compress a model directory into a LoSparse directory (with a report)",
        description="Replace the attention/MLP linears of MODEL by LoSparse layers at a budget, "
        "optionally distil to the original mean-pooled embeddings for --steps on real English "
        "sentences while pruning S under the cubic schedule (else one-shot magnitude pruning), "
        "then write OUT (load it with load_losparse(None, OUT)).",
    )
    c.add_argument("model", help="model directory or hub id (AutoModel)")
    c.add_argument("out", help="output directory")
    c.add_argument("--budget", type=float, default=0.2, help=BUDGET_HELP + " (default 0.2)")
    c.add_argument(
        "--low-rank-ratio",
        type=_ratio,
        default=0.05,
        help="rho_L of the paper's fixed split (default 0.05) or 'auto' (per-layer rank from "
        "calibration sentences)",
    )
    c.add_argument(
        "--method", default="losparse", choices=["losparse", "low_rank_only", "prune_only"]
    )
    c.add_argument("--steps", type=int, default=0, help="distillation steps (default 0: none)")
    c.add_argument("--batch-size", type=int, default=16)
    c.add_argument("--lr", type=float, default=1e-4)
    c.add_argument(
        "--sentences", help="text file, one sentence a line (default: built-in English sentences)"
    )
    c.add_argument("--seed", type=int, default=0)
    c.set_defaults(func=_compress)

    r = sub.add_parser("report", help="parameters and MACs of a saved LoSparse directory")
    r.add_argument("directory")
    r.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    r.set_defaults(func=_report)

    p = sub.add_parser(
        "reproduce",
        help="the claim on all-MiniLM-L6-v2: LoSparse vs low-rank only vs prune-only",
        description="Writes reports/lowrank-sparse.{json,md} (needs lmlab-common[minilm]).",
    )
    p.add_argument("--out", default="reports")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--budgets", type=float, nargs="+", default=[0.1, 0.2, 0.3])
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument(
        "--arms",
        nargs="+",
        default=["losparse", "losparse_auto", "low_rank_only", "prune_only"],
        choices=["losparse", "losparse_auto", "low_rank_only", "prune_only"],
    )
    p.set_defaults(func=_reproduce)
    add_dsee_commands(sub)
    return parser


def _compress(args: argparse.Namespace) -> int:
    import copy

    from lmlab_common import english_sentences, set_seed
    from transformers import AutoModel, AutoTokenizer

    from .config import budget_config
    from .experiment import _batches, distill_embeddings
    from .model import apply_losparse, save_pretrained
    from .pruner import LoSparsePruner
    from .report import compression_report

    set_seed(args.seed)
    teacher = AutoModel.from_pretrained(args.model).eval()
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    if args.sentences:
        with open(args.sentences, encoding="utf-8") as fh:
            sentences = [line.strip() for line in fh if line.strip()]
    else:
        sentences = list(english_sentences())
    steps = max(args.steps, 0)
    unit = max(1, steps // 10)
    config = budget_config(
        args.budget,
        low_rank_ratio=args.low_rank_ratio,
        method=args.method,
        warmup_steps=unit,
        initial_warmup=1,
        final_warmup=3,
        delta_t=5,
        importance="sensitivity" if steps > 4 * unit else "magnitude",
    )
    student = copy.deepcopy(teacher)
    calibration = _batches(tokenizer, sentences[:64], 16, 32)
    apply_losparse(student, config, calibration=calibration)
    if args.method != "low_rank_only":
        if steps > 4 * unit:
            pruner = LoSparsePruner(student, total_steps=steps)
            distill_embeddings(
                student,
                teacher,
                tokenizer,
                sentences,
                steps,
                batch_size=args.batch_size,
                lr=args.lr,
                pruner=pruner,
                show_progress=True,
            )
        else:
            LoSparsePruner(student, total_steps=5 * unit).finalize()  # one-shot, |S| scores
    elif steps:
        distill_embeddings(
            student,
            teacher,
            tokenizer,
            sentences,
            steps,
            batch_size=args.batch_size,
            lr=args.lr,
            show_progress=True,
        )
    save_pretrained(student, args.out)
    tokenizer.save_pretrained(args.out)
    report = compression_report(student)
    with open(os.path.join(args.out, "compression_report.md"), "w", encoding="utf-8") as fh:
        fh.write(report.to_markdown() + "\n")
    print(f"wrote {args.out}: kept {report.ratio:.3f} of {report.dense_params:,} parameters")
    return 0


def _report(args: argparse.Namespace) -> int:
    from .model import load_losparse
    from .report import compression_report

    report = compression_report(load_losparse(None, args.directory))
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.to_markdown())
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    from .reproduce import reproduce

    data = reproduce(
        out_dir=args.out,
        seeds=args.seeds,
        budgets=args.budgets,
        arms=args.arms,
        steps=args.steps,
        batch_size=args.batch_size,
    )
    print(f"wrote {args.out}/lowrank-sparse.md in {data['seconds']:.0f} s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"lowrank-sparse: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
