"""``encoder-lifecycle``: pre-train, fine-tune, compress and distil a small encoder, measured."""

from __future__ import annotations

import argparse
import dataclasses

from lmlab_common import run_cli

from .options import LifecycleOptions, quick_options

# Options with their help text; each becomes a kebab-case flag of `run`.
_HELP = {
    "out_dir": "output folder (its parent must exist); a rerun resumes an interrupted run",
    "hidden_size": "encoder width",
    "num_layers": "encoder depth (even: the half-depth student keeps every second layer)",
    "num_heads": "attention heads",
    "vocab_size": "word-level vocabulary trained on the corpus",
    "corpus_sentences": "pre-training sentences (default: all available offline)",
    "block_size": "tokens per pre-training block",
    "rtd_steps": "RTD + GDES pre-training steps",
    "mlm_compute_ratio": "MLM-only steps = rtd_steps x this (1.5: equal layer compute)",
    "pretrain_batch_size": "pre-training batch size",
    "pretrain_lr": "pre-training learning rate",
    "finetune_steps": "fine-tuning steps per encoder",
    "distill_steps": "distillation steps per student and method",
    "filter_steps": "TED stage-I filter training steps (per side)",
    "batch_size": "fine-tuning / distillation batch size",
    "finetune_lr": "fine-tuning / distillation learning rate",
    "max_length": "max tokens per classified sentence",
    "budget": "LoSparse student: kept fraction of the encoder's linear parameters, in (0, 1)",
    "low_rank_ratio": "LoSparse split rho_L (paper 0.05), in (0, budget)",
    "latency_repeats": "timed rounds per model and batch size",
    "seed": "training seed (the task split is fixed)",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="encoder-lifecycle",
        description="Pre-train a small DeBERTa-v2 encoder on real English text (RTD + GDES vs "
        "MLM-only), fine-tune it on a real-text classification task (vs a random init), "
        "compress and distil it (LoSparse vs half-depth student, TED vs KD), and report "
        "accuracy, size and CPU latency of every model side by side.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run or resume every stage; writes report.md/json + plot")
    defaults = LifecycleOptions()
    for field in dataclasses.fields(LifecycleOptions):
        if field.name not in _HELP:
            continue
        default = getattr(defaults, field.name)
        kind = {int: int, float: float, str: str}.get(type(default), int)
        flag = "--out" if field.name == "out_dir" else "--" + field.name.replace("_", "-")
        run.add_argument(
            flag,
            dest=field.name,
            type=kind,
            default=None,
            help=f"{_HELP[field.name]} (default: {default})",
        )
    run.add_argument(
        "--quick",
        action="store_true",
        help="a small run (about 2 minutes on 2 cores) for CI and smoke tests",
    )
    run.add_argument(
        "--overwrite",
        action="store_true",
        help="delete the output folder's contents and start again",
    )
    run.set_defaults(func=_run)
    return parser


def options_from_args(args: argparse.Namespace) -> LifecycleOptions:
    given = {k: v for k, v in vars(args).items() if k in _HELP and v is not None}
    given["overwrite"] = args.overwrite
    return quick_options(**given) if args.quick else LifecycleOptions(**given)


def _run(args: argparse.Namespace) -> int:
    options = options_from_args(args)
    options.check_out_dir()
    from .pipeline import run

    data = run(options)
    for item in data["orderings"]:
        verdict = "held" if item["held"] else "did not hold"
        print(f"{item['comparison']}: {item['diff_points']:+.1f} points ({verdict})")
    print(f"Report: {options.out_dir}/report.md (data: report.json, plot: accuracy_vs_cost.png)")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
