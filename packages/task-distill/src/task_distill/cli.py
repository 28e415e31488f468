"""``task-distill``: learn filters (stage I), distill (TED / KD / LWD), reproduce the claim.

Data: a JSONL file of token-id rows (``{"input_ids": [...], "labels": ...}``; for causal LMs
``labels`` may be omitted) via ``--train-file``, or ``--synthetic N`` for N rows of the built-in
nuisance task (``--synthetic-task lm`` for the Markov LM). Models are folders written by
``save_pretrained``. Every ``TEDConfig`` / ``TrainingArguments`` field is an option, in
kebab-case (``--kl-alpha``); the snake_case spelling (``--kl_alpha``) is accepted too.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import typing
from dataclasses import dataclass, field

from lmlab_common import add_reproduce_args, require_choice, run_cli

CAUSAL_MARKERS = ("CausalLM", "LMHead")


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


def _add_dataclass(parser: argparse.ArgumentParser, dtype) -> None:
    """Every init field of ``dtype`` as ``--kebab-case`` (and ``--snake_case``) options."""
    from transformers import HfArgumentParser

    hints = typing.get_type_hints(dtype)
    for f in dataclasses.fields(dtype):
        if f.init:
            f.type = hints[f.name]
            HfArgumentParser._parse_dataclass_field(parser, f)


def _build(ns: argparse.Namespace, dtypes) -> list:
    values = vars(ns)
    return [
        dtype(**{f.name: values[f.name] for f in dataclasses.fields(dtype) if f.name in values})
        for dtype in dtypes
    ]


def _load_data(data: DataArgs):
    from datasets import Dataset

    if data.train_file:
        return Dataset.from_json(data.train_file)
    if data.synthetic <= 0:
        raise ValueError(
            f"--synthetic={data.synthetic} and no --train-file; allowed: --train-file PATH or "
            "--synthetic N with N > 0"
        )
    from .tasks import NuisanceTask, markov_lm_dataset

    require_choice("--synthetic-task", data.synthetic_task, ("nuisance", "lm"))
    if data.synthetic_task == "lm":
        return markov_lm_dataset(data.synthetic, seed=data.synthetic_seed)
    ds = NuisanceTask(seed=data.synthetic_seed).dataset(data.synthetic, split_seed=1)
    return ds.remove_columns("styles")


def _auto_model(path: str):
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification

    config = AutoConfig.from_pretrained(path)
    arch = (config.architectures or [""])[0]
    causal = any(m in arch for m in CAUSAL_MARKERS)
    return (AutoModelForCausalLM if causal else AutoModelForSequenceClassification).from_pretrained(
        path
    )


def _is_causal(model) -> bool:
    return any(m in type(model).__name__ for m in CAUSAL_MARKERS)


def learn_filters(ns: argparse.Namespace) -> int:
    from .config import TEDConfig
    from .data import PadCollator
    from .trainer import FilterTrainer

    fargs, data, args = _build(ns, (FilterArgs, DataArgs, TEDConfig))
    require_choice("--role", fargs.role, ("teacher", "student"))
    model = _auto_model(fargs.model)
    pair: dict = {}
    if fargs.other_model:
        other = _auto_model(fargs.other_model)
        pair = {"student": other} if fargs.role == "teacher" else {"teacher": other}
    trainer = FilterTrainer(
        model,
        args,
        **pair,
        train_dataset=_load_data(data),
        data_collator=PadCollator(causal_lm=_is_causal(model)),
    )
    trainer.train()
    if trainer.args.should_save:
        trainer.filters.save_pretrained(args.output_dir)
    print(json.dumps({"filters": args.output_dir, "layers": trainer.filters.layers}))
    return 0


def distill(ns: argparse.Namespace) -> int:
    from .config import TEDConfig
    from .data import PadCollator
    from .filters import TaskAwareFilters
    from .trainer import KDTrainer, LayerwiseTrainer, TEDTrainer

    dargs, data, args = _build(ns, (DistillArgs, DataArgs, TEDConfig))
    classes = {"ted": TEDTrainer, "kd": KDTrainer, "lwd": LayerwiseTrainer}
    if dargs.method not in classes:
        raise ValueError(f"--method={dargs.method!r} is invalid; allowed: ted, kd, lwd")
    extra = {}
    if dargs.method == "ted":
        if not (dargs.teacher_filters and dargs.student_filters):
            raise ValueError(
                "--method ted needs --teacher-filters and --student-filters (teacher_filters / "
                "student_filters from learn-filters)"
            )
        extra = {
            "teacher_filters": TaskAwareFilters.from_pretrained(dargs.teacher_filters),
            "student_filters": TaskAwareFilters.from_pretrained(dargs.student_filters),
        }
    teacher, student = _auto_model(dargs.teacher), _auto_model(dargs.student)
    trainer = classes[dargs.method](
        student,
        args,
        teacher=teacher,
        train_dataset=_load_data(data),
        data_collator=PadCollator(causal_lm=_is_causal(student)),
        **extra,
    )
    result = trainer.train()
    trainer.save_model(args.output_dir)
    print(json.dumps({"method": dargs.method, "train_loss": result.training_loss}))
    return 0


def reproduce_cmd(ns: argparse.Namespace) -> int:
    from .reproduce import run_and_report

    return run_and_report(ns)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The CLI parser. The many training options (``TEDConfig``, which imports torch) are
    added only to ``command``'s subparser, so ``--help`` and ``reproduce`` start fast."""
    parser = argparse.ArgumentParser(
        prog="task-distill",
        description="TED task-aware layer-wise distillation with KD and LWD baselines.",
    )
    sub = parser.add_subparsers(dest="command", metavar="command")
    lf = sub.add_parser("learn-filters", help="stage I: train task-aware filters on a frozen model")
    if command == "learn-filters":
        from .config import TEDConfig

        for dtype in (FilterArgs, DataArgs, TEDConfig):
            _add_dataclass(lf, dtype)
    lf.set_defaults(func=learn_filters)
    di = sub.add_parser("distill", help="stage II: --method ted|kd|lwd (student from teacher)")
    if command == "distill":
        from .config import TEDConfig

        for dtype in (DistillArgs, DataArgs, TEDConfig):
            _add_dataclass(di, dtype)
    di.set_defaults(func=distill)
    rp = sub.add_parser(
        "reproduce",
        help="the paper's claim at small scale -> reports/task-distill.{json,md}",
        description="Synthetic claim (TED vs KD vs LWD), real-text task and causal-LM "
        "scenario, N seeds each; writes reports/task-distill.{json,md} after every arm.",
    )
    add_reproduce_args(rp, seeds=3)
    rp.add_argument(
        "--parts",
        default="synthetic,text,lm",
        help="comma-separated subset of synthetic,text,lm,official-init (default: "
        "synthetic,text,lm)",
    )
    rp.set_defaults(func=reproduce_cmd)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    return run_cli(build_parser(command), argv)
