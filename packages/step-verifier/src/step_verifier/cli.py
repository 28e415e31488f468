"""``step-verifier``: sample, label, train, vote, reproduce.

Problems travel as JSONL rows ``{"question", "gold_answer", "gold_solution"?, "paths": [...]}``
(see :class:`step_verifier.Problem`); GSM8K rows ``{"question", "answer"}`` are read too.
"""

from __future__ import annotations

import argparse
import json
import os

from lmlab_common import add_reproduce_args, require, run_cli


def _read_problems(path: str):
    from .data import Problem, normalize_answer, parse_gsm8k_solution, read_jsonl

    problems = []
    for i, row in enumerate(read_jsonl(path)):
        if "gold_answer" in row:
            problems.append(Problem.from_dict(row))
        elif "question" in row and "answer" in row:  # GSM8K's own format
            gold = parse_gsm8k_solution(row["answer"])
            answer = gold.answer or normalize_answer(row["answer"]) or ""
            problems.append(Problem(row["question"], answer, gold))
        else:
            raise ValueError(
                f"{path} row {i}: keys {sorted(row)}; allowed: question + gold_answer "
                "(step-verifier format) or question + answer (GSM8K)"
            )
    require(len(problems) > 0, "--problems", path, "a JSONL file with at least one problem")
    return problems


def _sample(args: argparse.Namespace) -> int:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .data import save_problems
    from .prompting import build_prompts, sample_paths

    problems = _read_problems(args.problems)
    prompts = [""]
    if args.exemplars:
        prompts = build_prompts(
            _read_problems(args.exemplars), args.num_prompts, args.exemplars_per_prompt, args.seed
        )
    model = AutoModelForCausalLM.from_pretrained(args.model)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    paths = sample_paths(
        model,
        tokenizer,
        [p.question for p in problems],
        prompts,
        args.paths_per_prompt,
        args.temperature,
        args.max_new_tokens,
        args.batch_size,
        args.seed,
    )
    for problem, found in zip(problems, paths, strict=True):
        problem.paths = found
    save_problems(args.out, problems)
    invalid = sum(x.answer is None for ps in paths for x in ps)
    print(f"wrote {sum(map(len, paths))} paths ({invalid} without an answer) to {args.out}")
    return 0


def _label(args: argparse.Namespace) -> int:
    from .data import to_prm_rows, write_jsonl
    from .labeling import GSM8KLabeler

    problems = _read_problems(args.problems)
    labels = [GSM8KLabeler().label(p) for p in problems]
    write_jsonl(args.out, to_prm_rows(problems, labels))
    print(f"wrote {sum(map(len, labels))} labelled paths (TRL PRM format) to {args.out}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from .config import VerifierConfig, VerifierTrainingConfig
    from .model import StepAwareVerifier, add_step_marker
    from .trainer import VerifierTrainer, build_verifier_dataset

    problems = _read_problems(args.problems)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForTokenClassification.from_pretrained(args.model, num_labels=5)
    add_step_marker(model, tokenizer, args.step_marker)
    verifier = StepAwareVerifier(
        model, tokenizer, VerifierConfig(step_marker=args.step_marker, max_length=args.max_length)
    )
    config = VerifierTrainingConfig(
        output_dir=args.output_dir,
        alpha=args.alpha,
        max_steps=args.max_steps,
        num_train_epochs=args.epochs,
        per_device_train_batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        save_steps=args.save_steps,
        logging_steps=10,
        report_to="none",
        use_cpu=args.use_cpu,
        # gloo only when launched distributed (torchrun); a single process needs no group
        ddp_backend="gloo" if args.use_cpu and int(os.environ.get("WORLD_SIZE", "1")) > 1 else None,
        seed=args.seed,
    )
    trainer = VerifierTrainer(
        verifier, config, train_dataset=build_verifier_dataset(verifier, problems)
    )
    trainer.train(resume_from_checkpoint=args.resume or None)
    if trainer.is_world_process_zero():
        verifier.save_pretrained(os.path.join(args.output_dir, "final"))
    return 0


def _vote(args: argparse.Namespace) -> int:
    from .model import StepAwareVerifier
    from .voting import evaluate_at_k

    problems = _read_problems(args.problems)
    for i, p in enumerate(problems):
        require(len(p.paths) > 0, f"problem {i} paths", [], "at least one sampled path")
    ks = [int(k) for k in args.k.split(",")] if args.k else None
    answers = [[x.answer for x in p.paths] for p in problems]
    scores = None
    if args.verifier:
        verifier = StepAwareVerifier.from_pretrained(args.verifier)
        flat_q = [p.question for p in problems for _ in p.paths]
        scored = verifier.score(flat_q, [x for p in problems for x in p.paths])
        scores, cursor = [], 0
        for p in problems:
            scores.append([s.score for s in scored[cursor : cursor + len(p.paths)]])
            cursor += len(p.paths)
    report = evaluate_at_k(
        answers, [p.gold_answer for p in problems], scores, ks, args.repeats, args.seed
    )
    print(json.dumps(report.to_dict(), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="step-verifier",
        description="DIVERSE: sample diverse reasoning paths, label steps, train a step-aware "
        "verifier, and vote.",
    )
    sub = parser.add_subparsers(dest="command", metavar="command")
    s = sub.add_parser("sample", help="sample reasoning paths from a causal LM")
    s.add_argument("--model", required=True, help="causal LM folder or hub id")
    s.add_argument("--problems", required=True, help="JSONL of problems (or GSM8K rows)")
    s.add_argument("--out", required=True, help="output JSONL (problems with paths)")
    s.add_argument("--exemplars", help="JSONL of solved exemplars for diverse prompts")
    s.add_argument("--num-prompts", type=int, default=5, help="paper: 5")
    s.add_argument("--exemplars-per-prompt", type=int, default=5, help="paper: 5 (GSM8K)")
    s.add_argument("--paths-per-prompt", type=int, default=20, help="paper: 20")
    s.add_argument("--temperature", type=float, default=0.5, help="paper: 0.5; 0 = greedy")
    s.add_argument("--max-new-tokens", type=int, default=256)
    s.add_argument("--batch-size", type=int, default=8, help="contexts per generate call")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=_sample)
    lab = sub.add_parser("label", help="GSM8K step labels -> TRL PRM JSONL")
    lab.add_argument("--problems", required=True)
    lab.add_argument("--out", required=True)
    lab.set_defaults(func=_label)
    t = sub.add_parser("train", help="train a step-aware verifier (VerifierTrainer)")
    t.add_argument("--model", required=True, help="encoder folder or hub id")
    t.add_argument("--problems", required=True, help="JSONL of problems with sampled paths")
    t.add_argument("--output-dir", required=True)
    t.add_argument("--alpha", type=float, default=0.1, help="step-loss weight (0 = plain)")
    t.add_argument("--step-marker", default="%%")
    t.add_argument("--max-length", type=int, default=512)
    t.add_argument("--max-steps", type=int, default=-1)
    t.add_argument("--epochs", type=float, default=5.0, help="official: 5")
    t.add_argument("--batch-size", type=int, default=8, help="official: 8 per device")
    t.add_argument("--learning-rate", type=float, default=1e-5, help="official: 1e-5")
    t.add_argument("--save-steps", type=int, default=500)
    t.add_argument("--resume", default="", help="checkpoint folder to resume from")
    t.add_argument("--use-cpu", action="store_true", help="CPU (gloo under torchrun)")
    t.add_argument("--seed", type=int, default=233, help="official README: 233")
    t.set_defaults(func=_train)
    v = sub.add_parser("vote", help="accuracy@k: majority, verifier top-1, weighted vote")
    v.add_argument("--problems", required=True, help="JSONL of problems with sampled paths")
    v.add_argument("--verifier", help="trained verifier folder (else majority/recall only)")
    v.add_argument("--k", default="", help="comma-separated k's (default: 1,5,10,20,50,100)")
    v.add_argument("--repeats", type=int, default=10, help="subsamples per k (official: 10)")
    v.add_argument("--seed", type=int, default=0)
    v.set_defaults(func=_vote)
    r = sub.add_parser("reproduce", help="the claim at small scale -> reports/step-verifier.*")
    add_reproduce_args(r, seeds=3)
    r.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    r.add_argument("--jobs", type=int, default=1, help="seeds run at once in worker processes")
    r.set_defaults(func=_reproduce)
    return parser


def _reproduce(args: argparse.Namespace) -> int:
    from .reproduce import reproduce

    reproduce(args.out, args.seeds, quick=args.quick, jobs=args.jobs)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(build_parser(), argv)
