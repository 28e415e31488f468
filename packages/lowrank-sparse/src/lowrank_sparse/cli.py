"""Command line: ``lowrank-sparse compress|report|reproduce`` and the ``dsee-*`` verbs."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence

from lmlab_common import add_reproduce_args, run_cli

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
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
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
        help="both claims on all-MiniLM-L6-v2: LoSparse vs low-rank only vs prune-only at equal "
        "budgets, and DSEE vs full fine-tuning vs head only",
        description="Writes reports/lowrank-sparse.{json,md} after every arm "
        "(needs lmlab-common[minilm]).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_reproduce_args(p, seeds=3)
    p.add_argument("--sections", nargs="+", default=["losparse", "dsee"],
                   choices=["losparse", "dsee"], help="which claims to run")  # fmt: skip
    p.add_argument("--budgets", type=float, nargs="+", default=[0.1, 0.2, 0.3])
    p.add_argument("--steps", type=int, default=150, help="LoSparse distillation steps per arm")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument(
        "--arms",
        nargs="+",
        default=["losparse", "losparse_auto", "low_rank_only", "prune_only"],
        choices=["losparse", "losparse_auto", "low_rank_only", "prune_only"],
    )
    p.add_argument("--dsee-steps", type=int, default=100, help="DSEE training steps per arm")
    p.add_argument("--dsee-prune-steps", type=int, default=20,
                   help="fine-tune steps after DSEE head removal")  # fmt: skip
    p.add_argument(
        "--dsee-context",
        type=float,
        default=0.0,
        help="fraction of DSEE examples with a real sentence prepended (0.5: harder)",
    )
    p.set_defaults(func=_reproduce)
    add_dsee_commands(sub)
    return parser


def _compress(args: argparse.Namespace) -> int:
    import copy

    from lmlab_common import english_sentences, set_seed, tokenize
    from transformers import AutoModel, AutoTokenizer

    from .apply import apply_losparse
    from .config import budget_config
    from .distill import distill_embeddings
    from .pruner import LoSparsePruner
    from .report import compression_report
    from .serialization import save_losparse

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
    calibration = [
        {k: v for k, v in tokenize(tokenizer, sentences[i : i + 16], 32).items()
         if k in ("input_ids", "attention_mask")}
        for i in range(0, min(64, len(sentences)), 16)
    ]  # fmt: skip
    apply_losparse(student, config, calibration=calibration)
    pruner = None
    if args.method != "low_rank_only":
        if steps > 4 * unit:
            pruner = LoSparsePruner(student, total_steps=steps)
        else:
            LoSparsePruner(student, total_steps=5 * unit).finalize()  # one-shot, |S| scores
    if steps and (pruner is not None or args.method == "low_rank_only"):
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
    save_losparse(student, args.out)
    tokenizer.save_pretrained(args.out)
    report = compression_report(student)
    with open(os.path.join(args.out, "compression_report.md"), "w", encoding="utf-8") as fh:
        fh.write(report.to_markdown() + "\n")
    print(f"wrote {args.out}: kept {report.ratio:.3f} of {report.dense_params:,} parameters")
    return 0


def _report(args: argparse.Namespace) -> int:
    from .report import compression_report
    from .serialization import load_losparse

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
        sections=args.sections,
        dsee_steps=args.dsee_steps,
        dsee_prune_steps=args.dsee_prune_steps,
        dsee_context=args.dsee_context,
    )
    print(f"wrote {args.out}/lowrank-sparse.md in {data['seconds']:.0f} s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(build_parser(), None if argv is None else list(argv))


if __name__ == "__main__":
    raise SystemExit(main())
