"""``rtd-pretrain``: pre-train with RTD (train), export plain models (export), reproduce."""

from __future__ import annotations

import argparse
import json
import os
import sys

from lmlab_common import run_cli

from .config import MASKING_STYLES, SHARING_MODES


def _train(args: argparse.Namespace) -> int:
    from lmlab_common import get_logger
    from lmlab_common.testing import parameters_digest
    from transformers import AutoConfig, AutoTokenizer

    from .config import RTDConfig
    from .data import build_blocks, check_tokenizer, corpus_tokenizer, read_corpus
    from .experiment import discriminator_config
    from .model import RTDModel, export_discriminator, export_generator
    from .trainer import RTDTrainer, build_rtd_model

    log = get_logger("rtd_pretrain.cli")
    texts = read_corpus(args.corpus)
    if args.tokenizer:
        tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    else:
        tokenizer = corpus_tokenizer(texts, vocab_size=args.vocab_size, kind=args.tokenizer_kind)
    check_tokenizer(tokenizer)
    blocks = build_blocks(texts, tokenizer, block_size=args.block_size)
    log.info("corpus: %d lines -> %d blocks of %d tokens", len(texts), len(blocks),
             args.block_size)  # fmt: skip
    config = RTDConfig(
        output_dir=args.output_dir,
        embedding_sharing=args.embedding_sharing,
        rtd_lambda=args.rtd_lambda,
        mask_prob=args.mask_prob,
        masking_style=args.masking_style,
        temperature=args.temperature,
        generator_depth_ratio=args.generator_depth_ratio,
        generator_config=args.generator_config,
        max_steps=args.max_steps,
        per_device_train_batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        warmup_steps=max(1, int(args.max_steps * args.warmup_ratio)),
        adam_beta2=0.98,
        adam_epsilon=1e-6,
        weight_decay=0.01,
        max_grad_norm=1.0,
        logging_steps=args.logging_steps,
        save_strategy="steps" if args.save_steps else "no",
        save_steps=args.save_steps or 500,
        report_to="none",
        seed=args.seed,
        data_seed=args.seed,
        use_cpu=args.use_cpu,
        ddp_backend=args.ddp_backend,
        dataloader_drop_last=True,
    )
    if args.init_from:
        model = RTDModel.from_pretrained(args.init_from)
    else:
        if args.discriminator_config:
            disc_config = AutoConfig.from_pretrained(args.discriminator_config)
            if disc_config.vocab_size != len(tokenizer):
                raise ValueError(
                    f"discriminator config vocab_size={disc_config.vocab_size} != tokenizer "
                    f"size {len(tokenizer)}; allowed: a config matching the tokenizer"
                )
        else:
            disc_config = discriminator_config(
                args.backend, len(tokenizer), args.hidden_size, args.num_layers, args.num_heads,
                max_positions=max(128, args.block_size), pad_token_id=tokenizer.pad_token_id,
            )  # fmt: skip
        model = build_rtd_model(disc_config, config, seed=args.seed)
    trainer = RTDTrainer(model, config, train_dataset=blocks, processing_class=tokenizer)
    result = trainer.train(resume_from_checkpoint=args.resume_from_checkpoint)
    rtd = trainer.rtd_model
    trainer.save_model(args.output_dir)
    if trainer.args.should_save:
        export_discriminator(rtd, os.path.join(args.output_dir, "discriminator"), tokenizer)
        export_generator(rtd, os.path.join(args.output_dir, "generator"), tokenizer)
    summary = {
        "rank": trainer.args.process_index,
        "global_step": trainer.state.global_step,
        "train_loss": result.training_loss,
        "parameters_sha256": parameters_digest(rtd),
        "output_dir": args.output_dir,
    }
    print(json.dumps(summary), flush=True)
    return 0


def _export(args: argparse.Namespace) -> int:
    from transformers import AutoTokenizer

    from .model import RTDModel, export_discriminator, export_generator

    model = RTDModel.from_pretrained(args.checkpoint)
    tokenizer = None
    if os.path.isfile(os.path.join(args.checkpoint, "tokenizer.json")):
        tokenizer = AutoTokenizer.from_pretrained(args.checkpoint)
    written = {}
    if args.which in ("discriminator", "both"):
        path = os.path.join(args.out, "discriminator") if args.which == "both" else args.out
        export_discriminator(model, path, tokenizer)
        written["discriminator"] = path
    if args.which in ("generator", "both"):
        path = os.path.join(args.out, "generator") if args.which == "both" else args.out
        export_generator(model, path, tokenizer)
        written["generator"] = path
    print(json.dumps(written))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .reproduce import build_parser as reproduce_parser

    parser = argparse.ArgumentParser(
        prog="rtd-pretrain",
        description="DeBERTaV3 replaced-token-detection pre-training with NES / ES / GDES "
        "embedding sharing.",
    )
    sub = parser.add_subparsers(dest="command", metavar="{train,export,reproduce}")
    t = sub.add_parser("train", help="pre-train generator + discriminator on a text corpus")
    t.add_argument("--corpus", required=True, help="a text file or a folder of .txt files")
    t.add_argument("--output-dir", required=True, help="checkpoints, final model and exports")
    t.add_argument("--tokenizer", help="a tokenizer folder (default: train one on the corpus)")
    t.add_argument("--vocab-size", type=int, default=8000, help="for a trained tokenizer")
    t.add_argument("--tokenizer-kind", default="wordlevel", choices=["wordlevel", "bpe"])
    t.add_argument("--block-size", type=int, default=128, help="tokens per block (with CLS/SEP)")
    t.add_argument("--backend", default="deberta", choices=["deberta", "electra"])
    t.add_argument("--discriminator-config", help="a config folder/JSON (default: --hidden-size…)")
    t.add_argument("--init-from", help="continue from an RTD checkpoint folder")
    t.add_argument("--hidden-size", type=int, default=256)
    t.add_argument("--num-layers", type=int, default=4, help="discriminator depth")
    t.add_argument("--num-heads", type=int, default=4)
    t.add_argument("--embedding-sharing", default="gdes", choices=SHARING_MODES)
    t.add_argument("--rtd-lambda", type=float, default=50.0, help="official code default: 10")
    t.add_argument("--mask-prob", type=float, default=0.15)
    t.add_argument("--masking-style", default="deberta", choices=MASKING_STYLES)
    t.add_argument("--temperature", type=float, default=1.0)
    t.add_argument("--generator-depth-ratio", type=float, default=0.5)
    t.add_argument("--generator-config", help="an explicit generator config folder/JSON")
    t.add_argument("--max-steps", type=int, default=1000)
    t.add_argument("--batch-size", type=int, default=32, help="per device")
    t.add_argument("--learning-rate", type=float, default=5e-4)
    t.add_argument("--warmup-ratio", type=float, default=0.1)
    t.add_argument("--logging-steps", type=int, default=50)
    t.add_argument("--save-steps", type=int, default=0, help="checkpoint every N steps (0: none)")
    t.add_argument("--resume-from-checkpoint", help="a checkpoint-N folder to resume from")
    t.add_argument("--seed", type=int, default=42)
    t.add_argument("--use-cpu", action="store_true")
    t.add_argument("--ddp-backend", default=None, help="e.g. gloo for CPU torchrun")
    t.set_defaults(func=_train)
    e = sub.add_parser("export", help="checkpoint -> plain transformers model folder(s)")
    e.add_argument("--checkpoint", required=True, help="an RTD checkpoint / output folder")
    e.add_argument("--out", required=True, help="destination folder")
    e.add_argument("--which", default="both", choices=["discriminator", "generator", "both"])
    e.set_defaults(func=_export)
    r = sub.add_parser("reproduce", help="NES vs ES vs GDES at small scale -> reports/")
    reproduce_parser(r)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    return run_cli(build_parser(), argv)
