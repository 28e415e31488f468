"""``code-infill``: train L2R / FIM / MIM decoders on generated programs, fill held-out middles
and judge the fills by running them in code-exec's sandbox; or fill one span of a file."""

from __future__ import annotations

import argparse
import dataclasses

from lmlab_common import run_cli

from .options import METHODS, InfillOptions, parse_methods, quick_options

# CLI flag → (InfillOptions field, type, help)
RUN_FLAGS = {
    "--train-programs": ("train_programs", int, "original training programs (all tiers)"),
    "--eval-programs": ("eval_programs", int, "held-out infilling tasks"),
    "--mutants-per-program": ("mutants_per_program", int, "tree-sitter mutants per original"),
    "--max-span-lines": ("max_span_lines", int, "the removed middle is 1..N whole lines"),
    "--hidden-size": ("hidden_size", int, "width of every method's tiny GPT-2"),
    "--num-layers": ("num_layers", int, "layers of every method's tiny GPT-2"),
    "--num-heads": ("num_heads", int, "attention heads"),
    "--vocab-size": ("vocab_size", int, "byte-level BPE vocabulary size"),
    "--steps": ("steps", int, "training steps (the same for every method)"),
    "--batch-size": ("batch_size", int, "training documents per step"),
    "--learning-rate": ("learning_rate", float, "peak learning rate (cosine schedule)"),
    "--fim-rate": ("fim_rate", float, "share of FIM-transformed training documents"),
    "--beta": ("beta", float, "MIM agreement weight"),
    "--max-new-tokens": ("max_new_tokens", int, "token budget of one fill"),
    "--min-new-tokens": ("min_new_tokens", int, "shortest fill in tokens (0: empty allowed)"),
    "--infill-batch-size": ("infill_batch_size", int, "tasks per batched infill (checkpoint unit)"),
    "--timeout-s": ("timeout_s", float, "sandbox wall-clock limit per program"),
    "--num-examples": ("num_examples", int, "side-by-side examples per method in the report"),
    "--seed": ("seed", int, "seed of the training generator (held out: seed + 1) and models"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="code-infill",
        description="Fill the middle of Python programs with decoders trained by bidir-lm "
        "(left-to-right, fill-in-the-middle, meet-in-the-middle) and judge every fill by "
        "running it in code-exec's sandbox.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="data, training, infilling, judging; writes report.md/json")
    defaults = InfillOptions()
    run.add_argument("--out", dest="out_dir", default=defaults.out_dir, help="output folder")
    run.add_argument(
        "--methods",
        default=",".join(defaults.methods),
        help=f"comma-separated subset of {', '.join(METHODS)}",
    )
    for flag, (field, kind, text) in RUN_FLAGS.items():
        run.add_argument(
            flag,
            dest=field,
            type=kind,
            default=None,
            help=f"{text} (default {getattr(defaults, field)}; smaller with --quick)",
        )
    run.add_argument("--quick", action="store_true", help="the ~2 minute CI-sized run")
    run.add_argument("--overwrite", action="store_true", help="clear an existing output folder")
    run.set_defaults(func=_run)

    one = sub.add_parser("fill", help="fill lines of a Python file with a trained model")
    one.add_argument("--run", dest="run_dir", required=True, help="output folder of a run")
    one.add_argument("--program", required=True, help="Python file to fill")
    one.add_argument("--line", type=int, required=True, help="first removed line (1-based)")
    one.add_argument("--num-lines", type=int, default=1, help="number of removed lines")
    one.add_argument("--method", default="mim", help=f"one of {', '.join(METHODS)}")
    one.add_argument("--max-new-tokens", type=int, default=40)
    one.add_argument("--min-new-tokens", type=int, default=1, help="0: an empty fill is allowed")
    one.set_defaults(func=_fill)

    abl = sub.add_parser(
        "ablate",
        help="MIM's training vs its decoding: decode a finished run's MIM model left-to-right",
    )
    abl.add_argument("--run", dest="run_dir", required=True, help="output folder of a run")
    abl.set_defaults(func=_ablate)
    return parser


def options_from_args(args: argparse.Namespace) -> InfillOptions:
    names = {f.name for f in dataclasses.fields(InfillOptions)}
    fields = {k: v for k, v in vars(args).items() if k in names and v is not None}
    fields["methods"] = parse_methods(args.methods)
    return quick_options(**fields) if args.quick else InfillOptions(**fields)


def _run(args: argparse.Namespace) -> int:
    options = options_from_args(args)
    from .pipeline import run

    data = run(options)
    print(data["markdown"])
    print(f"Report: {options.out_dir}/report.md (chart: infill.png, data: report.json)")
    return 0


def _fill(args: argparse.Namespace) -> int:
    from lmlab_common import require_choice, require_int

    require_choice("method", args.method, METHODS)
    require_int("line", args.line, 1)
    require_int("num_lines", args.num_lines, 1)
    with open(args.program, encoding="utf-8") as fh:
        code = fh.read()
    total = len(code.splitlines())
    if args.line + args.num_lines - 1 > total:
        raise ValueError(
            f"span --line {args.line} --num-lines {args.num_lines} (lines {args.line}.."
            f"{args.line + args.num_lines - 1}) is longer than the program {args.program!r} "
            f"({total} lines); allowed: line + num-lines - 1 <= {total}"
        )
    from .fill import fill_program

    result = fill_program(
        args.run_dir,
        code,
        args.line - 1,
        args.num_lines,
        args.method,
        args.max_new_tokens,
        min_new_tokens=args.min_new_tokens,
    )
    v = result.verdict
    print(f"removed ({args.method}):\n{result.task.middle}", end="")
    print(f"filled:\n{result.middle}" + ("" if result.middle.endswith("\n") else "\n"), end="")
    print(
        f"exact match: {v.exact_match}  execution match: {v.execution_match}  "
        f"sandbox status: {v.status}  outcome: {v.outcome}  ({result.latency_ms:.0f} ms)"
    )
    return 0


def _ablate(args: argparse.Namespace) -> int:
    from .ablation import decode_ablation

    data = decode_ablation(args.run_dir)
    print(data["markdown"])
    print(f"Written: {args.run_dir}/ablation.md and ablation.json")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
