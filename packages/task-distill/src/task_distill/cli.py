"""``task-distill``: learn filters (stage I), distill (TED / KD / LWD), reproduce the claim.

Data: a JSONL file of token-id rows (``{"input_ids": [...], "labels": ...}``; for causal LMs
``labels`` may be omitted) via ``--train_file``, or ``--synthetic N`` for N rows of the built-in
nuisance task (``--synthetic_task lm`` for the Markov LM). Models are folders written by
``save_pretrained``. Every ``TEDConfig`` / ``TrainingArguments`` field is an option.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field

USAGE = """task-distill <command> [options]

commands:
  learn-filters   stage I: train task-aware filters on a frozen model
  distill         stage II: --method ted|kd|lwd (student from teacher)
  reproduce       the paper's claim at small scale -> reports/task-distill.{json,md}

run `task-distill <command> --help` for the options of a command."""


@dataclass
class DataArgs:
    train_file: str | None = field(default=None, metadata={"help": "JSONL of token-id rows."})
    synthetic: int = field(default=0, metadata={"help": "Use N synthetic rows instead of a file."})
    synthetic_task: str = field(default="nuisance", metadata={"help": "nuisance | lm"})
    synthetic_seed: int = field(default=0, metadata={"help": "Seed of the synthetic task."})


@dataclass
class FilterArgs:
    model: str = field(metadata={"help": "Folder of the (frozen) model to learn filters on."})
    other_model: str | None = field(
        default=None,
        metadata={"help": "The other model of the pair, to place filters by layer_mapping."},
    )
    role: str = field(default="teacher", metadata={"help": "teacher | student (with other_model)"})


@dataclass
class DistillArgs:
    teacher: str = field(metadata={"help": "Folder of the fine-tuned teacher."})
    student: str = field(metadata={"help": "Folder of the initial student."})
    method: str = field(default="ted", metadata={"help": "ted | kd | lwd"})
    teacher_filters: str | None = field(default=None, metadata={"help": "Stage-I filters (ted)."})
    student_filters: str | None = field(default=None, metadata={"help": "Stage-I filters (ted)."})


def _load_data(data: DataArgs):
    from datasets import Dataset

    if data.train_file:
        return Dataset.from_json(data.train_file)
    if data.synthetic <= 0:
        raise SystemExit("error: give --train_file PATH or --synthetic N (N > 0)")
    from .tasks import NuisanceTask, markov_lm_dataset

    if data.synthetic_task == "lm":
        return markov_lm_dataset(data.synthetic, seed=data.synthetic_seed)
    if data.synthetic_task != "nuisance":
        raise SystemExit(f"error: --synthetic_task {data.synthetic_task!r}; allowed: nuisance, lm")
    ds = NuisanceTask(seed=data.synthetic_seed).dataset(data.synthetic, split_seed=1)
    return ds.remove_columns("styles")


def _auto_model(path: str):
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification

    config = AutoConfig.from_pretrained(path)
    arch = (config.architectures or [""])[0]
    cls = AutoModelForCausalLM if ("CausalLM" in arch or "LMHead" in arch) else None
    return (cls or AutoModelForSequenceClassification).from_pretrained(path)


def _parse(dataclasses_, argv, prog):
    from transformers import HfArgumentParser

    from .config import TEDConfig

    parser = HfArgumentParser((*dataclasses_, DataArgs, TEDConfig), prog=prog)
    return parser.parse_args_into_dataclasses(args=argv)


def learn_filters(argv: list[str]) -> int:
    from .data import PadCollator
    from .trainer import FilterTrainer

    fargs, data, args = _parse((FilterArgs,), argv, "task-distill learn-filters")
    model = _auto_model(fargs.model)
    pair: dict = {}
    if fargs.other_model:
        if fargs.role not in ("teacher", "student"):
            raise SystemExit(f"error: --role {fargs.role!r}; allowed: teacher, student")
        other = _auto_model(fargs.other_model)
        pair = {"student": other} if fargs.role == "teacher" else {"teacher": other}
    causal = "CausalLM" in type(model).__name__ or "LMHead" in type(model).__name__
    trainer = FilterTrainer(
        model,
        args,
        **pair,
        train_dataset=_load_data(data),
        data_collator=PadCollator(causal_lm=causal),
    )
    trainer.train()
    if trainer.args.should_save:
        trainer.filters.save_pretrained(args.output_dir)
    print(json.dumps({"filters": args.output_dir, "layers": trainer.filters.layers}))
    return 0


def distill(argv: list[str]) -> int:
    from .data import PadCollator
    from .filters import TaskAwareFilters
    from .trainer import KDTrainer, LayerwiseTrainer, TEDTrainer

    dargs, data, args = _parse((DistillArgs,), argv, "task-distill distill")
    classes = {"ted": TEDTrainer, "kd": KDTrainer, "lwd": LayerwiseTrainer}
    if dargs.method not in classes:
        raise SystemExit(f"error: --method {dargs.method!r}; allowed: ted, kd, lwd")
    teacher, student = _auto_model(dargs.teacher), _auto_model(dargs.student)
    extra = {}
    if dargs.method == "ted":
        if not (dargs.teacher_filters and dargs.student_filters):
            raise SystemExit("error: --method ted needs --teacher_filters and --student_filters")
        extra = {
            "teacher_filters": TaskAwareFilters.from_pretrained(dargs.teacher_filters),
            "student_filters": TaskAwareFilters.from_pretrained(dargs.student_filters),
        }
    causal = "CausalLM" in type(student).__name__ or "LMHead" in type(student).__name__
    trainer = classes[dargs.method](
        student,
        args,
        teacher=teacher,
        train_dataset=_load_data(data),
        data_collator=PadCollator(causal_lm=causal),
        **extra,
    )
    result = trainer.train()
    trainer.save_model(args.output_dir)
    print(json.dumps({"method": dargs.method, "train_loss": result.training_loss}))
    return 0


def reproduce_cmd(argv: list[str]) -> int:
    from .reproduce import main as reproduce_main

    return reproduce_main(argv)


COMMANDS = {"learn-filters": learn_filters, "distill": distill, "reproduce": reproduce_cmd}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        parser = argparse.ArgumentParser(prog="task-distill", usage=USAGE)
        parser.error(f"unknown command {command!r}; allowed: {', '.join(COMMANDS)}")
    return COMMANDS[command](rest)
