"""Small-scale reproduction: mutation augmentation (equal example count) and curriculum.

``run_augmentation(seed)`` trains two tiny BART models on the same number of examples --
originals only vs half originals + half their mutants -- and scores both on mutants of
held-out programs. ``reproduce(seeds)`` writes ``reports/code-exec.{json,md}``.
"""

from __future__ import annotations

import math
import os
import random
import tempfile
import time

import datasets
import torch
from lmlab_common import (
    markdown_table,
    mean_std,
    require_choice,
    set_seed,
    tiny_seq2seq,
    write_report,
)

from .config import CodeExecTrainingArguments, MutationConfig
from .data import build_examples
from .metrics import compute_metrics, compute_singleline_metrics
from .sandbox import Sandbox
from .trainer import (
    CodeExecTrainer,
    TraceCollator,
    build_tokenizer,
    encode_example,
    predict_traces,
)

MAX_SOURCE, MAX_TARGET = 96, 80


def thread_count() -> int:
    """Torch threads for a run: ``$OMP_NUM_THREADS`` when set to a positive integer (so
    ``OMP_NUM_THREADS=1 code-exec reproduce`` really runs on one thread), else up to 2."""
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    return max(1, min(2, os.cpu_count() or 1))


def make_splits(seed: int, n_train: int = 200, n_test: int = 60, sandbox: Sandbox | None = None):
    """Originals + mutants for training, mutants of held-out originals for testing."""
    mutation = MutationConfig(mutants_per_program=2, max_candidates=8)
    own = sandbox is None
    box = sandbox or Sandbox(pool_size=2)
    try:
        train = build_examples("mutated_small", range(n_train), box, seed, mutation, 8)
        held = range(100_000, 100_000 + n_test)
        test = build_examples("mutated_small", held, box, seed, mutation, 8)
    finally:
        if own:
            box.close()
    originals = [r for r in train if not r["is_mutant"]]
    mutants = [r for r in train if r["is_mutant"]]
    return (
        originals,
        mutants,
        [r for r in test if r["is_mutant"]],
        [r for r in test if not r["is_mutant"]],
    )


def train_and_score(train_rows, test_sets, tokenizer, seed: int, steps: int, **arg_overrides):
    """Train a tiny BART on ``train_rows``; return {name: TraceMetrics dict} per test set."""
    set_seed(seed)
    model = tiny_seq2seq(
        "bart",
        vocab_size=len(tokenizer),
        hidden_size=64,
        num_layers=2,
        num_heads=2,
        max_position_embeddings=128,
        seed=seed,
    )
    rows = [
        encode_example(tokenizer, r["source"], r["target"], MAX_SOURCE, MAX_TARGET)
        for r in train_rows
    ]
    if any("tier" in r for r in train_rows):
        rows = [{**e, "tier": r["tier"]} for e, r in zip(rows, train_rows, strict=True)]
    workdir = tempfile.TemporaryDirectory(prefix="code-exec-train-")
    args = CodeExecTrainingArguments(
        output_dir=workdir.name,
        max_steps=steps,
        per_device_train_batch_size=16,
        learning_rate=3e-3,
        warmup_steps=10,
        curriculum=arg_overrides.pop("curriculum", "none"),
        use_cpu=True,
        report_to=[],
        save_strategy="no",
        logging_steps=max(steps, 1),
        disable_tqdm=True,
        seed=seed,
        **arg_overrides,
    )
    trainer = CodeExecTrainer(
        model=model,
        args=args,
        train_dataset=datasets.Dataset.from_list(rows),
        data_collator=TraceCollator(tokenizer.pad_token_id),
        processing_class=tokenizer,
    )
    trainer.train()
    workdir.cleanup()
    scores = {"_models": model}
    for name, test in test_sets.items():
        if name == "singleline":
            continue  # scored with the SingleLine metrics by the caller
        preds = predict_traces(
            model, tokenizer, [r["source"] for r in test], MAX_SOURCE, MAX_TARGET, batch_size=64
        )
        scores[name] = compute_metrics(preds, [r["target"] for r in test]).to_dict()
    return scores


def _singleline_scores(model, rows, tokenizer) -> dict:
    preds = predict_traces(model, tokenizer, [r["source"] for r in rows], MAX_SOURCE, 24)
    return compute_singleline_metrics(preds, [r["target"] for r in rows]).to_dict()


def _drop_model(scores: dict) -> dict:
    scores.pop("_models", None)
    return scores


def run_augmentation(seed: int = 0, steps: int = 120, n_train: int = 160, n_test: int = 50):
    """Originals-only vs originals+mutants at an equal number of training examples."""
    torch.set_num_threads(thread_count())
    originals, mutants, test_mut, test_orig = make_splits(seed, n_train, n_test)
    size = min(len(originals), 2 * len(mutants))
    rng = random.Random(seed)
    plain = rng.sample(originals, size)
    mixed = rng.sample(originals, size // 2) + rng.sample(mutants, size - size // 2)
    texts = [r["source"] for r in originals + mutants + test_mut + test_orig]
    tokenizer = build_tokenizer(texts + [r["target"] for r in originals + mutants])
    tests = {"mutated": test_mut, "original": test_orig}
    return {
        "seed": seed,
        "train_examples": size,
        "test_mutants": len(test_mut),
        "originals_only": _drop_model(train_and_score(plain, tests, tokenizer, seed, steps)),
        "with_mutants": _drop_model(train_and_score(mixed, tests, tokenizer, seed, steps)),
    }


def run_curriculum(seed: int = 0, steps: int = 300, n_train: int = 160, n_test: int = 50):
    """Curriculum (singleline -> +tutorial -> official stage-3 mix) vs the stage-3 mix from
    step 0, equal steps and data; all metrics per tier (SingleLine with its own metrics)."""
    torch.set_num_threads(thread_count())
    mutation = MutationConfig(mutants_per_program=2, max_candidates=8)
    with Sandbox(pool_size=2) as box:
        train, test = [], {}
        for tier, gen in (("singleline", "singleline"), ("tutorial", "tutorial"),
                          ("mutated", "mutated_small")):  # fmt: skip
            rows = build_examples(gen, range(n_train), box, seed, mutation, 8)
            held = build_examples(gen, range(10**5, 10**5 + n_test), box, seed, mutation, 8)
            train += [r for r in rows if tier != "mutated" or r["is_mutant"]]
            test[tier] = [r for r in held if tier != "mutated" or r["is_mutant"]]
    texts = [r["source"] for r in train] + [r["source"] for t in test.values() for r in t]
    tokenizer = build_tokenizer(texts + [r["target"] for r in train])
    out = {"seed": seed, "train_examples": len(train)}
    for mode in ("curriculum", "mixed"):
        out[mode] = train_and_score(train, test, tokenizer, seed, steps, curriculum=mode)
        single = test["singleline"]
        out[mode]["singleline"] = _singleline_scores(out[mode].pop("_models"), single, tokenizer)
    return out


ABLATIONS = ("augmentation", "curriculum")
AUG_METRICS = ("output_acc", "trace_acc", "line_f1", "id_f1")


def _summary(values) -> str:
    """``mean ± sd (n=k)`` over seeds; metrics that are undefined in a run are left out."""
    finite = [float(v) for v in values if isinstance(v, int | float) and math.isfinite(v)]
    return mean_std(finite).format(digits=2) if finite else "—"


def _markdown(runs: list[dict], curriculum: list[dict], command: str) -> str:
    parts = ["# code-exec reproduce", "", f"Command: `{command}`", ""]
    if runs:
        parts += [
            "## Mutation augmentation (equal example count), mean ± sd over seeds", "",
            markdown_table(
                ["test set", "metric", "originals only", "with mutants"],
                [[test, metric,
                  _summary(r["originals_only"][test][metric] for r in runs),
                  _summary(r["with_mutants"][test][metric] for r in runs)]
                 for test in ("mutated", "original") for metric in AUG_METRICS],
            ), "",
            markdown_table(
                ["seed", "train", "test set", "metric", "originals only", "with mutants"],
                [[r["seed"], r["train_examples"], test, metric,
                  r["originals_only"][test][metric], r["with_mutants"][test][metric]]
                 for r in runs for test in ("mutated", "original") for metric in AUG_METRICS],
            ), "",
        ]  # fmt: skip
    if curriculum:
        keys = [(tier, metric) for tier, metrics in curriculum[0]["curriculum"].items()
                for metric in metrics]  # fmt: skip
        parts += [
            "## Curriculum vs stage-3 mix from step 0 (equal steps and data), mean ± sd", "",
            markdown_table(
                ["tier", "metric", "curriculum", "mixed"],
                [[tier, metric,
                  _summary(r["curriculum"][tier][metric] for r in curriculum),
                  _summary(r["mixed"][tier][metric] for r in curriculum)]
                 for tier, metric in keys],
            ), "",
            markdown_table(
                ["seed", "tier", "metric", "curriculum", "mixed"],
                [[r["seed"], tier, metric, r["curriculum"][tier][metric],
                  r["mixed"][tier][metric]] for r in curriculum for tier, metric in keys],
            ), "",
        ]  # fmt: skip
    return "\n".join(parts)


def reproduce(
    seeds=(0, 1, 2), steps: int = 300, out_dir: str = "reports", n_train: int = 160,
    n_test: int = 50, ablations: tuple[str, ...] = ABLATIONS,
) -> dict:  # fmt: skip
    """The ablations per seed; ``reports/code-exec.{json,md}`` rewritten after every run, so
    a killed run keeps what it finished."""
    for name in ablations:
        require_choice("ablations", name, ABLATIONS)
    start = time.time()
    command = (
        f"code-exec reproduce --seeds {len(seeds)} --steps {steps} --n-train {n_train} "
        f"--n-test {n_test} --ablation {'both' if len(ablations) == 2 else ablations[0]}"
    )
    report = {
        "claim": "mutation augmentation raises identifier F1 on mutated programs; "
        "curriculum vs mixed is measured, not asserted",
        "config": {"seeds": list(seeds), "steps": steps, "n_train": n_train, "n_test": n_test},
        "runs": [],
        "curriculum_vs_mixed": [],
    }  # fmt: skip

    def save() -> None:
        report["seconds"] = round(time.time() - start, 1)
        md = _markdown(report["runs"], report["curriculum_vs_mixed"], command)
        write_report(out_dir, "code-exec", report, md)

    if "augmentation" in ablations:
        for seed in seeds:
            report["runs"].append(run_augmentation(seed, steps, n_train, n_test))
            save()
    if "curriculum" in ablations:
        for seed in seeds:
            report["curriculum_vs_mixed"].append(run_curriculum(seed, steps, n_train, n_test))
            save()
    save()
    return report
