"""``bidir-lm``: train (mim | fim | l2r), infill, reproduce.

Data for ``train``: a JSONL file with a ``text`` field per line (``--train-file``) or
``--synthetic N`` toy programs. The model: ``--model DIR`` (a saved BidirectionalLM, or a
transformers causal LM folder with its tokenizer, which is wrapped), or a tiny GPT-2 built
from ``--hidden-size/--num-layers/--num-heads``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from lmlab_common import add_reproduce_args, run_cli

from .options import DIVERGENCES, INFILL_METHODS, METHODS, SHARINGS, STOP_GRADIENTS


def _texts(path: str, field: str) -> list[str]:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--train-file {path!r} does not exist")
    texts = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                row = json.loads(line)
                if field not in row:
                    raise ValueError(f"{path}:{n} has no {field!r} field; allowed: {sorted(row)}")
                texts.append(str(row[field]))
    if not texts:
        raise ValueError(f"--train-file {path!r} has no rows")
    return texts


def _model_and_tokenizer(args, texts: list[str] | None):
    from lmlab_common import tiny_causal_lm, train_tokenizer
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .model import BidirectionalLM, prepare_tokenizer

    if args.model:
        if not os.path.isdir(args.model):
            raise FileNotFoundError(f"--model {args.model!r} is not a folder")
        tokenizer = AutoTokenizer.from_pretrained(args.model)
        if os.path.isfile(os.path.join(args.model, "bidir_config.json")):
            return BidirectionalLM.from_pretrained(args.model), tokenizer
        lm = AutoModelForCausalLM.from_pretrained(args.model)
        return BidirectionalLM.from_causal_lm(lm, tokenizer, args.sharing, args.method), tokenizer
    if texts is None:  # synthetic toy programs
        from .synthetic import toy_tokenizer

        tokenizer = toy_tokenizer()
    else:
        tokenizer = train_tokenizer(texts, kind="bpe", wrap=None, vocab_size=args.vocab_size)
    prepare_tokenizer(tokenizer)
    lm = tiny_causal_lm(
        "gpt2",
        vocab_size=len(tokenizer),
        hidden_size=args.hidden_size,
        num_layers=args.num_layers,
        num_heads=args.num_heads,
        max_position_embeddings=args.context,
        seed=args.seed,
    )
    return BidirectionalLM.from_causal_lm(lm, tokenizer, args.sharing, args.method), tokenizer


def train(args: argparse.Namespace) -> int:
    from datasets import Dataset

    from .config import MIMConfig
    from .fim import apply_fim
    from .trainer import MIMTrainer, PadCollator

    if bool(args.train_file) == bool(args.synthetic):
        raise ValueError("give exactly one of --train-file PATH or --synthetic N (N > 0)")
    config = MIMConfig(
        output_dir=args.output_dir,
        method=args.method,
        beta=args.beta,
        divergence=args.divergence,
        stop_gradient=args.stop_gradient,
        max_steps=args.max_steps,
        per_device_train_batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        seed=args.seed,
        data_seed=args.seed,
        save_strategy="steps" if args.save_steps else "no",
        save_steps=args.save_steps or 500,
        logging_steps=args.logging_steps,
        report_to="none",
        use_cpu=args.use_cpu,
        ddp_backend=args.ddp_backend,
        disable_tqdm=args.quiet,
    )
    texts = _texts(args.train_file, args.text_field) if args.train_file else None
    model, tokenizer = _model_and_tokenizer(args, texts)
    if texts is None:
        from .synthetic import ToyPrograms

        texts = [p.text for p in ToyPrograms().programs(args.synthetic, seed=args.seed)]
    ids = [
        tokenizer(t, add_special_tokens=False)["input_ids"][: model.context_size - 8] for t in texts
    ]
    data = Dataset.from_dict({"input_ids": [i for i in ids if i]})
    if args.method == "fim":
        data = apply_fim(data, model.bidir_config.fim_ids, args.fim_rate, 0.5, args.seed)
    trainer = MIMTrainer(
        model,
        config,
        train_dataset=data,
        data_collator=PadCollator(model.bidir_config.pad_token_id),
        processing_class=tokenizer,
    )
    result = trainer.train(resume_from_checkpoint=args.resume_from_checkpoint)
    trainer.save_model(args.output_dir)
    if trainer.args.process_index == 0:
        print(
            json.dumps(
                {
                    "method": args.method,
                    "train_loss": result.training_loss,
                    "steps": trainer.state.global_step,
                    "output_dir": args.output_dir,
                }
            )
        )
    return 0


def infill_cmd(args: argparse.Namespace) -> int:
    from transformers import AutoTokenizer

    from .infilling import infill
    from .model import BidirectionalLM

    if not os.path.isdir(args.model):
        raise FileNotFoundError(f"--model {args.model!r} is not a folder")
    model = BidirectionalLM.from_pretrained(args.model)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    if args.input:
        if not os.path.isfile(args.input):
            raise FileNotFoundError(f"--input {args.input!r} does not exist")
        with open(args.input, encoding="utf-8") as fh:
            rows = [json.loads(x) for x in fh if x.strip()]
        prefixes, suffixes = [r["prefix"] for r in rows], [r["suffix"] for r in rows]
    elif args.prefix is not None and args.suffix is not None:
        prefixes, suffixes = [args.prefix], [args.suffix]
    else:
        raise ValueError("give --prefix TEXT and --suffix TEXT, or --input JSONL")
    results = infill(
        model,
        tokenizer,
        prefixes,
        suffixes,
        args.max_new_tokens,
        args.method,
        tau=args.tau,
        min_new_tokens=args.min_new_tokens,
    )
    lines = [
        json.dumps(
            {
                "prefix": p,
                "suffix": s,
                "middle": r.middle,
                "method": r.method,
                "met": r.met,
                "steps": r.steps,
            }
        )
        for p, s, r in zip(prefixes, suffixes, results, strict=True)
    ]
    if args.output:
        from lmlab_common import atomic_write_text

        atomic_write_text(args.output, "\n".join(lines) + "\n")
    else:
        print("\n".join(lines))
    return 0


def reproduce_cmd(args: argparse.Namespace) -> int:
    from .reproduce import run

    command = f"bidir-lm reproduce --seeds {args.seeds} --steps {args.steps}"
    run(args.out, args.seeds, args.steps, args.eval_examples, command)
    print(os.path.join(args.out, "bidir-lm.md"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bidir-lm",
        description="Meet in the Middle: bidirectional LM training and infilling, with L2R "
        "and FIM baselines.",
    )
    sub = parser.add_subparsers(dest="command")
    t = sub.add_parser("train", help="train with --method mim|fim|l2r")
    t.add_argument("--method", choices=METHODS, default="mim")
    t.add_argument("--output-dir", required=True)
    t.add_argument("--model", help="saved BidirectionalLM or causal LM folder (with tokenizer)")
    t.add_argument("--train-file", help="JSONL with a text field per line")
    t.add_argument("--text-field", default="text")
    t.add_argument("--synthetic", type=int, default=0, metavar="N", help="N toy programs")
    t.add_argument("--sharing", choices=SHARINGS, default="shared")
    t.add_argument("--beta", type=float, default=1.0, help="agreement weight β >= 0")
    t.add_argument("--divergence", choices=DIVERGENCES, default="tv")
    t.add_argument("--stop-gradient", choices=STOP_GRADIENTS, default="none")
    t.add_argument("--fim-rate", type=float, default=0.5)
    t.add_argument("--max-steps", type=int, default=100)
    t.add_argument("--batch-size", type=int, default=16)
    t.add_argument("--learning-rate", type=float, default=1e-3)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--save-steps", type=int, default=0, help="checkpoint every N steps (0: no)")
    t.add_argument("--logging-steps", type=int, default=10)
    t.add_argument("--resume-from-checkpoint", default=None)
    t.add_argument("--hidden-size", type=int, default=64)
    t.add_argument("--num-layers", type=int, default=2)
    t.add_argument("--num-heads", type=int, default=2)
    t.add_argument("--context", type=int, default=128, help="context of a new tiny model")
    t.add_argument("--vocab-size", type=int, default=1000, help="BPE vocabulary for text files")
    t.add_argument("--use-cpu", action="store_true")
    t.add_argument("--ddp-backend", default=None, help="e.g. gloo under torchrun on CPU")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=train)
    i = sub.add_parser("infill", help="fill the middle between a prefix and a suffix")
    i.add_argument("--model", required=True, help="folder written by train")
    i.add_argument("--prefix")
    i.add_argument("--suffix")
    i.add_argument("--input", help="JSONL with prefix and suffix fields")
    i.add_argument("--output", help="JSONL to write (default: stdout)")
    i.add_argument(
        "--method",
        choices=INFILL_METHODS,
        default=None,
        help="default: the method the model was trained with",
    )
    i.add_argument("--max-new-tokens", type=int, default=32)
    i.add_argument(
        "--min-new-tokens",
        type=int,
        default=0,
        help="shortest middle (default 0: an empty middle is allowed)",
    )
    i.add_argument("--tau", type=float, default=0.1, help="junction acceptance ratio")
    i.set_defaults(func=infill_cmd)
    r = sub.add_parser("reproduce", help="L2R / FIM / MIM / MIM β=0 → reports/bidir-lm.*")
    add_reproduce_args(r, seeds=3)
    r.add_argument("--steps", type=int, default=500, help="training steps per arm")
    r.add_argument("--eval-examples", type=int, default=200)
    r.set_defaults(func=reproduce_cmd)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_cli(build_parser(), sys.argv[1:] if argv is None else argv)
