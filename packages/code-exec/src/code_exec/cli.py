"""``code-exec`` command line: trace, mutate, build-data, train, eval, reproduce."""

from __future__ import annotations

import argparse
import json
import sys

from lmlab_common import add_reproduce_args, run_cli

from .config import MutationConfig, SandboxConfig

ABLATIONS = ("augmentation", "curriculum")  # as in code_exec.reproduce (kept light: no torch)


def _read_source(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    with open(path, "rb") as fh:
        return fh.read()


def cmd_trace(args: argparse.Namespace) -> int:
    from .sandbox import Sandbox

    config = SandboxConfig(
        timeout_s=args.timeout, max_steps=args.max_steps, max_memory_mb=args.max_memory_mb
    )
    with Sandbox(config, pool_size=1) as box:
        result = box.run(_read_source(args.file), stdin=args.stdin)
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(f"status: {result.status}" + (f" ({result.error})" if result.error else ""))
        print(result.to_text())
    return 0 if result.ok else 1


def cmd_mutate(args: argparse.Namespace) -> int:
    from .mutation import augment
    from .sandbox import Sandbox

    source = _read_source(args.file).decode("utf-8")
    config = MutationConfig(mutants_per_program=args.k, seed=args.seed)
    with Sandbox(pool_size=args.num_proc) as box:
        for mutant, result in augment(source, box, config):
            row = {
                "operator": mutant.operator,
                "line": mutant.line,
                "code": mutant.source,
                "trace": result.to_text(),
            }
            print(json.dumps(row))
    return 0


def cmd_build_data(args: argparse.Namespace) -> int:
    from .data import build_dataset

    sizes = {"singleline": args.singleline, "tutorial": args.tutorial, "mutated": args.mutated}
    ds = build_dataset(
        args.out, sizes, seed=args.seed, num_proc=args.num_proc, chunk_size=args.chunk_size
    )
    ds.to_json(f"{args.out}/dataset.jsonl")
    print(f"{len(ds)} examples -> {args.out}/dataset.jsonl")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    import datasets
    from lmlab_common import tiny_seq2seq

    from .config import CodeExecTrainingArguments
    from .trainer import CodeExecTrainer, TraceCollator, build_tokenizer, encode_example

    rows = datasets.load_dataset("json", data_files=args.data, split="train")
    tok = build_tokenizer(list(rows["source"]) + list(rows["target"]))
    enc = rows.map(lambda r: encode_example(tok, r["source"], r["target"], 256, 512))
    model = tiny_seq2seq(
        "bart",
        vocab_size=len(tok),
        hidden_size=args.hidden_size,
        num_layers=args.num_layers,
        max_position_embeddings=512,
        seed=args.seed,
    )
    targs = CodeExecTrainingArguments(
        output_dir=args.out,
        max_steps=args.max_steps,
        per_device_train_batch_size=args.batch_size,
        curriculum=args.curriculum,
        report_to=[],
        save_strategy="steps",
        save_steps=max(args.max_steps // 4, 1),
        seed=args.seed,
    )
    trainer = CodeExecTrainer(
        model=model,
        args=targs,
        train_dataset=enc,
        data_collator=TraceCollator(tok.pad_token_id),
        processing_class=tok,
    )
    trainer.train(resume_from_checkpoint=args.resume or None)
    trainer.save_model(args.out)
    print(f"model -> {args.out}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .metrics import compute_metrics, compute_singleline_metrics

    def lines(path: str) -> list[str]:
        with open(path, encoding="utf-8") as fh:
            return [line.rstrip("\n") for line in fh]

    preds, golds = lines(args.preds), lines(args.golds)
    fn = compute_singleline_metrics if args.singleline else compute_metrics
    print(json.dumps(fn(preds, golds).to_dict(), indent=2))
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from .reproduce import reproduce

    ablations = ABLATIONS if args.ablation == "both" else (args.ablation,)
    reproduce(seeds=tuple(range(args.seeds)), steps=args.steps, out_dir=args.out,
              n_train=args.n_train, n_test=args.n_test, ablations=ablations)  # fmt: skip
    print(f"report -> {args.out}/code-exec.md")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="code-exec",
        description="CodeExecutor: sandboxed execution traces, mutation augmentation, "
        "trace-prediction training.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("trace", help="trace a Python file in the sandbox (official format)")
    p.add_argument("file", help="Python source file, or - for stdin")
    p.add_argument("--stdin", default=None, help="text fed to the program's input()")
    p.add_argument("--timeout", type=float, default=2.0)
    p.add_argument("--max-steps", type=int, default=1000)
    p.add_argument("--max-memory-mb", type=int, default=256)
    p.add_argument("--json", action="store_true", help="print the full Trace as JSON")
    p.set_defaults(func=cmd_trace)
    p = sub.add_parser("mutate", help="print kept mutants of a file as JSON lines")
    p.add_argument("file")
    p.add_argument("-k", type=int, default=3, help="mutants to keep")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-proc", type=int, default=2)
    p.set_defaults(func=cmd_mutate)
    p = sub.add_parser("build-data", help="generate + trace the 3 tiers (resumable)")
    p.add_argument("--out", required=True)
    for tier, n in (("singleline", 1000), ("tutorial", 1000), ("mutated", 500)):
        p.add_argument(f"--{tier}", type=int, default=n, help=f"programs (default {n})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-proc", type=int, default=2)
    p.add_argument("--chunk-size", type=int, default=100)
    p.set_defaults(func=cmd_build_data)
    p = sub.add_parser("train", help="train a tiny BART trace predictor on build-data output")
    p.add_argument("--data", required=True, help="dataset.jsonl from build-data")
    p.add_argument("--out", required=True)
    p.add_argument("--max-steps", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--hidden-size", type=int, default=128)
    p.add_argument("--num-layers", type=int, default=2)
    p.add_argument("--curriculum", choices=("curriculum", "mixed", "none"), default="curriculum")
    p.add_argument("--resume", default="", help="checkpoint dir to resume from")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("eval", help="official metrics for preds.txt vs golds.txt")
    p.add_argument("preds")
    p.add_argument("golds")
    p.add_argument("--singleline", action="store_true")
    p.set_defaults(func=cmd_eval)
    p = sub.add_parser(
        "reproduce", help="augmentation and curriculum ablations over N seeds -> reports/"
    )
    add_reproduce_args(p, seeds=3)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--ablation", choices=("both", *ABLATIONS), default="both")
    p.add_argument("--n-train", type=int, default=160, help="original programs per tier")
    p.add_argument("--n-test", type=int, default=50, help="held-out programs per tier")
    p.set_defaults(func=cmd_reproduce)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_cli(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
