"""``vl-ground``: make-data, pretrain, predict, reproduce."""

from __future__ import annotations

import argparse
import json
import os
import sys

from lmlab_common import add_reproduce_args, require, run_cli


def _make_data(args: argparse.Namespace) -> int:
    from .data import save_examples, scene_to_example
    from .scenes import generate_scenes, training_view

    scenes = generate_scenes(args.n, seed=args.seed)
    view = training_view if args.split == "train" else (lambda s: s)
    path = save_examples([scene_to_example(view(s)) for s in scenes], args.out)
    print(f"wrote {args.n} examples to {path}")
    return 0


def _pretrain(args: argparse.Namespace) -> int:
    from .config import GrillTrainingArguments
    from .data import load_examples
    from .model import GrillModel
    from .processor import GrillProcessor
    from .scenes import all_texts
    from .trainer import GrillTrainer

    examples = load_examples(args.data)
    texts = [*all_texts()] + [ex.get("caption", "") for ex in examples]
    texts += [e["text"] for ex in examples for e in ex.get("expressions", [])]
    texts += [q["question"] + " " + q["answer"] for ex in examples for q in ex.get("questions", [])]
    processor = GrillProcessor.from_texts(texts)
    model = GrillModel.from_processor(
        processor, hidden_size=args.hidden_size, num_layers=args.num_layers, seed=args.seed
    )
    training = GrillTrainingArguments(
        output_dir=args.out,
        objectives=args.objectives,
        max_steps=args.max_steps,
        per_device_train_batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        warmup_steps=min(50, args.max_steps // 10),
        lr_scheduler_type="cosine",
        logging_steps=50,
        save_steps=args.save_steps,
        report_to=[],
        use_cpu=True,
        seed=args.seed,
        ddp_backend="gloo" if int(os.environ.get("WORLD_SIZE", "1")) > 1 else None,
    )
    trainer = GrillTrainer(model, training, processor, train_dataset=examples)
    trainer.train(resume_from_checkpoint=args.resume)
    trainer.save_model(args.out)
    print(f"saved model and processor to {args.out}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from PIL import Image

    from .inference import TASKS, predict
    from .model import GrillModel
    from .processor import GrillProcessor

    require(args.task in TASKS, "--task", args.task, "one of " + ", ".join(TASKS))
    model = GrillModel.from_pretrained(args.model).eval()
    processor = GrillProcessor.from_pretrained(args.model)
    images = [Image.open(p) for p in args.images]
    texts = args.text if args.task != "caption" else None
    if texts is not None and len(texts) == 1 and len(images) > 1:
        texts = texts * len(images)
    outputs = predict(model, processor, args.task, images, texts)
    for path, out in zip(args.images, outputs, strict=True):
        value = (
            out
            if isinstance(out, str)
            else {"box": out.box, "score": out.score, "text_label": out.text_label}
        )
        print(json.dumps({"image": path, args.task: value}))
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    from .reproduce import reproduce

    reproduce(args.out, seeds=args.seeds, steps=args.steps, quick=args.quick)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vl-ground",
        description="GRILL-style grounded VL pre-training: VQA, captioning and grounding.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("make-data", help="write seeded synthetic scenes as examples.jsonl + PNGs")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--n", type=int, default=2000, help="number of scenes (default 2000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--split",
        choices=("train", "test"),
        default="train",
        help="train: no text names a held-out colour-shape pair; test: full texts",
    )
    p.set_defaults(func=_make_data)

    p = sub.add_parser("pretrain", help="pre-train a fresh GrillModel on examples.jsonl")
    p.add_argument("--data", required=True, help="examples.jsonl or its folder")
    p.add_argument("--out", required=True, help="output folder (checkpoints, final model)")
    p.add_argument(
        "--objectives",
        default="caption,span,vqa,align_contrastive",
        help="comma-separated subset of caption,span,vqa,align_contrastive,align_tokens",
    )
    p.add_argument("--max-steps", type=int, default=1500)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--hidden-size", type=int, default=96)
    p.add_argument("--num-layers", type=int, default=2)
    p.add_argument("--save-steps", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", default=None, help="checkpoint folder to resume from")
    p.set_defaults(func=_pretrain)

    p = sub.add_parser("predict", help="vqa | caption | ground on image files")
    p.add_argument("--model", required=True, help="folder written by pretrain")
    p.add_argument("--task", required=True, help="vqa, caption or ground")
    p.add_argument("--images", nargs="+", required=True)
    p.add_argument("--text", nargs="*", help="questions (vqa) or expressions (ground)")
    p.set_defaults(func=_predict)

    p = sub.add_parser("reproduce", help="with vs without alignment, zero- and few-shot")
    add_reproduce_args(p, seeds=3)
    p.add_argument(
        "--steps", type=int, default=600, help="pre-training steps per arm (default 600)"
    )
    p.add_argument("--quick", action="store_true", help="small sizes (minutes)")
    p.set_defaults(func=_reproduce)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_cli(build_parser(), sys.argv[1:] if argv is None else argv)
