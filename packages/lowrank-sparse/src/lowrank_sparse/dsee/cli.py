"""DSEE verbs for the ``lowrank-sparse`` CLI: ``dsee-apply``, ``dsee-prune``, ``dsee-merge``.
The package CLI calls :func:`add_dsee_commands` on its subparsers; each verb sets ``func``
(called with the parsed args, returns an exit code). DSEE's claim is a section of
``lowrank-sparse reproduce``.

Training between ``dsee-apply`` and ``dsee-prune`` is the user's (any ``transformers.Trainer``
works on the adapted model; load it with :func:`lowrank_sparse.dsee.load_dsee`).
"""

from __future__ import annotations

import argparse
import json
import sys

from lmlab_common import run_cli


def _load_base(path: str, task: str, num_labels: int):
    from transformers import AutoModel, AutoModelForSequenceClassification

    if task == "sequence-classification":
        return AutoModelForSequenceClassification.from_pretrained(path, num_labels=num_labels)
    return AutoModel.from_pretrained(path)


def _add_base_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="base model directory or hub id")
    p.add_argument(
        "--task",
        choices=["sequence-classification", "base"],
        default="sequence-classification",
        help="model class to load (default: sequence-classification)",
    )
    p.add_argument("--num-labels", type=int, default=2, help="labels of the task head")


def _cmd_apply(args: argparse.Namespace) -> int:
    from .config import DSEEConfig
    from .model import apply_dsee, parameter_report
    from .serialization import save_dsee

    targets = {"target_modules": args.target_modules} if args.target_modules else {}
    config = DSEEConfig(
        **targets,
        r=args.r,
        lora_alpha=args.lora_alpha,
        num_sparse=args.num_sparse,
        sparse_method=args.sparse_method,
        seed=args.seed,
    )
    model = apply_dsee(_load_base(args.model, args.task, args.num_labels), config)
    save_dsee(model, args.output)
    report = parameter_report(model)
    print(json.dumps({"output": args.output, "report": str(report)}))
    return 0


def _cmd_prune(args: argparse.Namespace) -> int:
    from .prune import prune_dsee
    from .serialization import load_dsee, save_dsee

    model = load_dsee(_load_base(args.model, args.task, args.num_labels), args.adapter)
    report = prune_dsee(
        model,
        sparsity=args.sparsity,
        heads_per_layer=args.heads_per_layer,
        score=args.score,
        other_sparsity=args.other_sparsity,
    )
    save_dsee(model, args.output)
    out = {
        "output": args.output,
        "adapted_sparsity": report.adapted_sparsity,
        "other_sparsity": report.other_sparsity,
        "linear_macs_saved": report.macs_saved,
    }
    print(json.dumps(out))
    return 0


def _cmd_merge(args: argparse.Namespace) -> int:
    from .model import dsee_state, merge_dsee
    from .serialization import load_dsee

    model = load_dsee(_load_base(args.model, args.task, args.num_labels), args.adapter)
    heads = dsee_state(model).pruned_heads
    model = merge_dsee(model)
    if heads:
        print(
            "note: heads were removed; transformers 5 configs cannot record per-layer head "
            "counts, so reload this model with load_dsee on the base model instead",
            file=sys.stderr,
        )
    model.save_pretrained(args.output)
    print(json.dumps({"output": args.output}))
    return 0


def add_dsee_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register the DSEE verbs on an ``argparse`` subparsers object."""
    p = subparsers.add_parser(
        "dsee-apply",
        help="add DSEE adapters (low-rank + sparse updates) to a model and save them",
        description="Choose the sparse supports from the pretrained weights and save a fresh "
        "(untrained) DSEE adapter directory.",
    )
    _add_base_args(p)
    p.add_argument("--output", required=True, help="adapter directory to write")
    p.add_argument(
        "--target-modules",
        nargs="+",
        default=None,
        help="module-name patterns (default: query/value of every self-attention)",
    )
    p.add_argument("--r", type=int, default=16, help="LoRA rank (official scripts: 16)")
    p.add_argument("--lora-alpha", type=float, default=32.0)
    p.add_argument("--num-sparse", type=int, default=16, help="sparse entries per matrix")
    p.add_argument("--sparse-method", choices=["grebsmo", "magnitude", "random"], default="grebsmo")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_apply)

    p = subparsers.add_parser(
        "dsee-prune",
        help="stage 2: unstructured and/or head pruning of a (trained) DSEE model",
    )
    _add_base_args(p)
    p.add_argument("--adapter", required=True, help="DSEE adapter directory")
    p.add_argument("--output", required=True, help="pruned adapter directory to write")
    p.add_argument("--sparsity", type=float, default=0.0, help="global fraction of adapted weights")
    p.add_argument("--other-sparsity", type=float, default=None, help="key/dense (default same)")
    p.add_argument("--heads-per-layer", type=int, default=0, help="heads to remove per layer")
    p.add_argument(
        "--score", choices=["final", "delta", "weight", "wabs_official"], default="final"
    )
    p.set_defaults(func=_cmd_prune)

    p = subparsers.add_parser("dsee-merge", help="merge a DSEE adapter into a plain model")
    _add_base_args(p)
    p.add_argument("--adapter", required=True, help="DSEE adapter directory")
    p.add_argument("--output", required=True, help="directory for the plain transformers model")
    p.set_defaults(func=_cmd_merge)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry for the DSEE verbs (the package CLI wires the same verbs)."""
    parser = argparse.ArgumentParser(prog="lowrank-sparse", description="DSEE verbs")
    add_dsee_commands(parser.add_subparsers(dest="command", required=True))
    return run_cli(parser, argv)
