"""``gen-rank``: warm up a ranker, train JGR, generate-then-rank, reproduce the claim.

Data is a JSONL file with ``source`` and ``target`` (optionally ``reference``, what the metric
scores against) via ``--data``, or ``--synthetic N`` rows of the built-in chain task. Models are
folders: ``--generator`` (a transformers seq2seq or causal LM with its tokenizer) and
``--ranker`` (a folder written by ``Ranker.save_pretrained``, or a plain encoder that gets a
fresh head). ``train`` and ``warmup-ranker`` also take every ``JGRConfig`` /
``TrainingArguments`` field as an option (``--max-steps``, ``--iteration-steps``, ...).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

from lmlab_common import add_reproduce_args, atomic_write_text, run_cli

EXTRA = (
    ("--generator", dict(required=True, help="generator folder (model + tokenizer)")),
    ("--ranker", dict(required=True, help="Ranker folder, or an encoder folder (new head)")),
    ("--data", dict(default=None, help="JSONL with source/target[/reference] columns")),
    ("--synthetic", dict(type=int, default=0, help="use N rows of the synthetic chain task")),
    ("--synthetic-seed", dict(type=int, default=0, help="seed of the synthetic task")),
    ("--metric", dict(default=None, help="summarization | rougeL | bleu | dialog | chain")),
)


def _config_parser(sub, name: str, help_text: str):
    from .config import JGRConfig

    parser = sub.add_parser(
        name, help=help_text, description=help_text, dataclass_types=[JGRConfig]
    )
    for flag, kwargs in EXTRA:
        parser.add_argument(flag, **kwargs)
    return parser


def _config(ns: argparse.Namespace, **overrides):
    from .config import JGRConfig

    values = {
        f.name: getattr(ns, f.name)
        for f in dataclasses.fields(JGRConfig)
        if f.init and hasattr(ns, f.name)
    }
    values.update(overrides)
    return JGRConfig(**values)


def _rows(ns: argparse.Namespace) -> tuple[list[dict], str]:
    if ns.data:
        if not os.path.isfile(ns.data):
            raise FileNotFoundError(f"--data {ns.data!r} does not exist")
        with open(ns.data, encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
        return rows, ns.metric or "summarization"
    if ns.synthetic <= 0:
        raise ValueError("--data/--synthetic is missing; allowed: --data FILE or --synthetic N>0")
    from .synthetic import ChainTask

    return ChainTask(seed=ns.synthetic_seed).rows(ns.synthetic), ns.metric or "chain"


def _models(ns: argparse.Namespace):
    from transformers import AutoModel, AutoTokenizer

    from .model import load_generator
    from .ranker import RANKER_CONFIG, Ranker

    for flag, path in (("--generator", ns.generator), ("--ranker", ns.ranker)):
        if not os.path.isdir(path):
            raise FileNotFoundError(f"{flag} {path!r} is not a folder")
    generator = load_generator(ns.generator)
    tokenizer = AutoTokenizer.from_pretrained(ns.generator)
    if os.path.isfile(os.path.join(ns.ranker, RANKER_CONFIG)):
        ranker = Ranker.from_pretrained(ns.ranker)
    else:
        ranker = Ranker(AutoModel.from_pretrained(ns.ranker))
    try:
        ranker_tokenizer = AutoTokenizer.from_pretrained(ns.ranker)
    except (OSError, ValueError):
        ranker_tokenizer = tokenizer
    return generator, ranker, tokenizer, ranker_tokenizer


def _train(ns: argparse.Namespace) -> int:
    from datasets import Dataset

    from .metrics import get_metric
    from .trainer import JGRTrainer

    args = _config(ns)
    rows, metric_name = _rows(ns)
    generator, ranker, tok, rtok = _models(ns)
    trainer = JGRTrainer(
        generator,
        ranker,
        args,
        tok,
        ranker_tokenizer=rtok,
        metric=get_metric(metric_name),
        train_dataset=Dataset.from_list(rows),
    )
    result = trainer.train(resume_from_checkpoint=args.resume_from_checkpoint)
    trainer.save_model(args.output_dir)
    print(json.dumps({"output_dir": args.output_dir, "train_loss": result.training_loss}))
    return 0


def _warmup(ns: argparse.Namespace) -> int:
    from datasets import Dataset

    from .experiment import candidate_pool
    from .metrics import get_metric
    from .trainer import JGRTrainer

    args = _config(ns, iteration_ranker_steps=ns.iteration_steps, candidate_pick_strategy=ns.pick)
    rows, metric_name = _rows(ns)
    metric = get_metric(metric_name)
    generator, ranker, tok, rtok = _models(ns)
    for r in rows:
        r.setdefault("reference", r.get("target"))
    pool = candidate_pool(
        generator, tok, rows, ns.num_beams, ns.num_samples, metric, batch_size=ns.gen_batch_size
    )
    trainer = JGRTrainer(
        generator, ranker, args, tok, ranker_tokenizer=rtok, metric=metric,
        train_dataset=Dataset.from_list(pool),
    )  # fmt: skip
    trainer.train(resume_from_checkpoint=args.resume_from_checkpoint)
    trainer.save_model(args.output_dir)
    print(json.dumps({"output_dir": args.output_dir, "candidates_per_source": ns.num_beams
                      + ns.num_samples}))  # fmt: skip
    return 0


def _generate(ns: argparse.Namespace) -> int:
    from .inference import generate_then_rank
    from .model import load_pair

    generator, ranker, tok, rtok = load_pair(ns.model)
    if not os.path.isfile(ns.input):
        raise FileNotFoundError(f"--input {ns.input!r} does not exist")
    with open(ns.input, encoding="utf-8") as fh:
        lines = [line.rstrip("\n") for line in fh if line.strip()]
    sources = [json.loads(x)["source"] if x.lstrip().startswith("{") else x for x in lines]
    results = generate_then_rank(
        generator, ranker, tok, sources, ns.num_candidates, ranker_tokenizer=rtok,
        strategy=ns.strategy, batch_size=ns.batch_size, max_new_tokens=ns.max_new_tokens,
    )  # fmt: skip
    text = "".join(json.dumps(r.to_dict()) + "\n" for r in results)
    if ns.output:
        atomic_write_text(ns.output, text)
    else:
        sys.stdout.write(text)
    return 0


def _reproduce(ns: argparse.Namespace) -> int:
    from .reproduce import run

    run(ns.out, ns.seeds, quick=ns.quick)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gen-rank",
        description="JGR joint generator-ranker training and generate-then-rank inference.",
    )
    from transformers import HfArgumentParser

    # HfArgumentParser subcommands: every JGRConfig field becomes an option (kebab-case too).
    sub = parser.add_subparsers(dest="command", metavar="command", parser_class=HfArgumentParser)
    w = _config_parser(sub, "warmup-ranker", "train the ranker alone on generator candidates")
    w.add_argument("--num-beams", type=int, default=8, help="beam candidates per source")
    w.add_argument("--num-samples", type=int, default=8, help="sampled candidates per source")
    w.add_argument("--gen-batch-size", type=int, default=32, help="sources per generate call")
    w.add_argument("--pick", default="all", help="candidate_pick_strategy for warm-up")
    w.set_defaults(func=_warmup)
    t = _config_parser(sub, "train", "JGR: alternate ranker and generator updates")
    t.set_defaults(func=_train)
    g = sub.add_parser("generate", help="generate-then-rank with a saved pair")
    g.add_argument("--model", required=True, help="folder with generator/ and ranker/")
    g.add_argument("--input", required=True, help="text file (one source a line) or JSONL")
    g.add_argument("--output", default=None, help="JSONL output (default: stdout)")
    g.add_argument("--num-candidates", type=int, default=16)
    g.add_argument("--strategy", default="beam", help="beam | sample")
    g.add_argument("--batch-size", type=int, default=16)
    g.add_argument("--max-new-tokens", type=int, default=109)
    g.set_defaults(func=_generate)
    r = sub.add_parser("reproduce", help="the claim at small scale -> reports/gen-rank.*")
    add_reproduce_args(r, seeds=3)
    r.add_argument("--quick", action="store_true", help="tiny budget (a smoke run)")
    r.set_defaults(func=_reproduce)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_cli(build_parser(), argv)
