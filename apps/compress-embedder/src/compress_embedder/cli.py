"""``compress-embedder``: shrink all-MiniLM-L6-v2 with LoSparse + distillation, and measure it
against truncated SVD, prune-only and int8 quantization."""

from __future__ import annotations

import argparse

from lmlab_common import run_cli

from .options import CompressOptions, quick_options

SWEEP_OUT = "out/compress-embedder-sweep"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="compress-embedder",
        description="Compress the real sentence-embedding model all-MiniLM-L6-v2 with LoSparse "
        "and distillation; compare it at the same budget and with the same distillation with "
        "truncated SVD and prune-only, and with int8 quantization (alone and composed).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    defaults = CompressOptions()
    run = sub.add_parser(
        "run",
        help="the fair arms at one budget + the int8 alternatives; report.md/json + plot",
    )
    _common(run, defaults.out_dir)
    run.add_argument(
        "--budget",
        type=float,
        default=argparse.SUPPRESS,
        help=f"fraction of the encoder's linear parameters kept, in (0, 1) "
        f"(default {defaults.budget})",
    )
    run.set_defaults(func=_run)
    sweep = sub.add_parser(
        "sweep",
        help="distilled students at several budgets, float and int8, with the int8 "
        "alternatives; report.md/json + pareto.png",
    )
    _common(sweep, SWEEP_OUT)
    sweep.add_argument(
        "--budgets",
        default="0.25,0.4,0.6",
        help="comma-separated fractions of the encoder's linear parameters, each in (0, 1)",
    )
    sweep.add_argument(
        "--methods",
        default="losparse,low_rank_only,prune_only",
        help="comma-separated: losparse, low_rank_only (truncated SVD), prune_only",
    )
    sweep.add_argument(
        "--no-int8",
        action="store_true",
        help="skip the two int8 forms (dynamic, torchao weight-only) of each arm",
    )
    sweep.set_defaults(func=_sweep)
    agg = sub.add_parser(
        "aggregate",
        help="mean ± sd over run or sweep folders that differ only in --seed",
    )
    agg.add_argument("reports", nargs="+", help="two or more output folders (or report.json)")
    agg.add_argument("--out", default=None, help="also write aggregate.md/json into this folder")
    agg.set_defaults(func=_aggregate)
    return parser


def _common(parser: argparse.ArgumentParser, out_dir: str) -> None:
    """Options shared by run and sweep. Unset flags are absent from the namespace, so --quick
    keeps its own sizes unless a flag is given explicitly."""
    d = CompressOptions()
    s = argparse.SUPPRESS
    add = parser.add_argument
    add("--out", dest="out_dir", default=out_dir, help=f"output folder (default {out_dir})")
    add("--low-rank-ratio", default=s, help="LoSparse split rho_L (default 0.05) or 'auto'")
    add("--steps", type=int, default=s, help=f"distillation steps per arm (default {d.steps})")
    add("--batch-size", type=int, default=s, help=f"default {d.batch_size}")
    add("--lr", type=float, default=s, help=f"default {d.lr}")
    add(
        "--layer-weight",
        type=float,
        default=s,
        help=f"weight of the layer-wise hidden-state MSE term (0 = embeddings only; "
        f"default {d.layer_weight})",
    )
    add(
        "--train-sentences",
        type=int,
        default=s,
        help=f"training sentences, after the held-out ones (default {d.train_sentences})",
    )
    add(
        "--text-source",
        default=s,
        help="english_sentences source: all (8,778 sentences, default), topics or docstrings",
    )
    add("--seed", type=int, default=s, help=f"default {d.seed}")
    add("--quick", action="store_true", help="a small run for smoke tests")
    add(
        "--overwrite",
        action="store_true",
        help="replace the contents of an existing non-empty output folder",
    )


def _options(args: argparse.Namespace) -> CompressOptions:
    skip = {"command", "func", "quick", "budgets", "methods", "no_int8"}
    fields = {k: v for k, v in vars(args).items() if k not in skip}
    if "low_rank_ratio" in fields and fields["low_rank_ratio"] != "auto":
        fields["low_rank_ratio"] = _number("low_rank_ratio", fields["low_rank_ratio"])
    return quick_options(**fields) if args.quick else CompressOptions(**fields)


def _run(args: argparse.Namespace) -> int:
    options = _options(args)
    options.check_out_dir()
    from .pipeline import run

    _rows, text = run(options)
    print(text)
    print(f"Report: {options.out_dir}/report.md (plot: quality.png, data: report.json)")
    print(
        f"Compressed model: {options.out_dir}/model (load with compress_embedder.load_compressed;"
        " compress_embedder.quantize_all gives its int8 form)"
    )
    return 0


def _sweep(args: argparse.Namespace) -> int:
    budgets = [_number("budgets", b) for b in args.budgets.split(",") if b.strip()]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    options = _options(args)
    options.check_out_dir()
    from .sweep import sweep

    _rows, text = sweep(options, budgets, methods, int8=not args.no_int8)
    print(text)
    print(f"Report: {options.out_dir}/report.md (plot: pareto.png, data: report.json)")
    return 0


def _aggregate(args: argparse.Namespace) -> int:
    from .seeds import aggregate

    print(aggregate(args.reports, args.out))
    return 0


def _number(field: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{field}={text!r} is invalid; allowed: a number") from None


def main(argv: list[str] | None = None) -> int:
    return run_cli(build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
