"""``compress-embedder``: shrink all-MiniLM-L6-v2 with LoSparse + distillation."""

from __future__ import annotations

import argparse
import dataclasses

from lmlab_common import run_cli

from .options import CompressOptions, quick_options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="compress-embedder",
        description="Compress the real sentence-embedding model all-MiniLM-L6-v2 with LoSparse "
        "and distillation; compare it with the original, truncated SVD and LoSparse without "
        "distillation at the same budget.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="build, measure and save; writes report.md/json + plot")
    defaults = CompressOptions()
    run.add_argument("--out", dest="out_dir", default=defaults.out_dir, help="output folder")
    run.add_argument(
        "--budget",
        type=float,
        default=defaults.budget,
        help="fraction of the encoder's linear parameters kept, in (0, 1)",
    )
    run.add_argument(
        "--low-rank-ratio",
        default=str(defaults.low_rank_ratio),
        help="LoSparse split rho_L (paper: 0.05) or 'auto'",
    )
    run.add_argument("--steps", type=int, default=defaults.steps, help="distillation steps")
    run.add_argument("--batch-size", type=int, default=defaults.batch_size)
    run.add_argument("--lr", type=float, default=defaults.lr)
    run.add_argument(
        "--layer-weight",
        type=float,
        default=defaults.layer_weight,
        help="weight of the layer-wise hidden-state MSE term (0 = embeddings only)",
    )
    run.add_argument("--seed", type=int, default=defaults.seed)
    run.add_argument(
        "--quick", action="store_true", help="a small run (about a minute) for smoke tests"
    )
    run.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the contents of an existing non-empty output folder",
    )
    run.set_defaults(func=_run)
    return parser


def _run(args: argparse.Namespace) -> int:
    fields = {
        k: v
        for k, v in vars(args).items()
        if k in {f.name for f in dataclasses.fields(CompressOptions)}
    }
    ratio = fields["low_rank_ratio"]
    fields["low_rank_ratio"] = ratio if ratio == "auto" else _float(ratio)
    options = quick_options(**fields) if args.quick else CompressOptions(**fields)
    options.check_out_dir()
    from .pipeline import run

    _rows, text = run(options)
    print(text)
    print(f"Report: {options.out_dir}/report.md (plot: quality.png, data: report.json)")
    print(
        f"Compressed model: {options.out_dir}/model (load with compress_embedder.load_compressed)"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(build_parser(), argv)


def _float(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


if __name__ == "__main__":
    raise SystemExit(main())
