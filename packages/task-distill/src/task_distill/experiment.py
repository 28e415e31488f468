"""One seeded run of the central claim: TED vs KD vs LWD from the same student.

Shared by ``tests/task_distill/test_claim.py`` and ``task-distill reproduce``.
"""

from __future__ import annotations

import copy
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

import torch
from lmlab_common import set_seed, tiny_encoder

from .config import TEDConfig
from .data import PadCollator
from .synthetic import NuisanceTask, accuracy, finetune, probe_report, train_nuisance_teacher
from .trainer import FilterTrainer, KDTrainer, LayerwiseTrainer, TEDTrainer


@dataclass
class ClaimSetup:
    """Sizes and budgets of one claim run (defaults: the CI claim test)."""

    seed: int = 0
    teacher_hidden: int = 64
    teacher_layers: int = 2
    student_hidden: int = 16
    student_layers: int = 2
    n_teacher_train: int = 2000
    n_labelled: int = 200
    n_test: int = 500
    nuisance_scale: float = 2.0
    teacher_recover_steps: int = 100
    teacher_steps: int = 200
    student_ft_steps: int = 60
    stage1_steps: int = 60
    distill_steps: int = 100
    lr: float = 1e-3
    kl_alpha: float = 1.0
    ted_mse_alpha: float = 100.0
    lwd_mse_alpha: float = 1.0
    init_protocol: str = "same"  # "same": every arm from the fine-tuned student; "official"


def _args(out: str, setup: ClaimSetup, steps: int, mse_alpha: float) -> TEDConfig:
    return TEDConfig(
        output_dir=out,
        max_steps=steps,
        per_device_train_batch_size=32,
        learning_rate=setup.lr,
        warmup_steps=0,
        kl_alpha=setup.kl_alpha,
        mse_alpha=mse_alpha,
        use_cpu=True,
        save_strategy="no",
        report_to="none",
        logging_steps=max(steps, 1),
        disable_tqdm=True,
        seed=setup.seed,
        data_seed=setup.seed,
    )


def _say(verbose: bool, *parts) -> None:
    if verbose:
        print("[task-distill]", *parts, file=sys.stderr, flush=True)


def run_claim(setup: ClaimSetup | None = None, verbose: bool = False) -> dict:
    """Teacher → fine-tuned student → stage I → KD / LWD / TED; accuracies and probes."""
    setup = setup or ClaimSetup()
    t0 = time.time()
    set_seed(setup.seed)
    task = NuisanceTask(seed=setup.seed, n_contents=16, n_styles=16, min_len=8, max_len=12)
    big = task.dataset(setup.n_teacher_train, split_seed=1)
    test = task.dataset(setup.n_test, split_seed=2)
    labelled = big.select(range(setup.n_labelled)).remove_columns("styles")
    stage1_data = big.remove_columns("styles")
    teacher = train_nuisance_teacher(
        task,
        big,
        hidden_size=setup.teacher_hidden,
        num_layers=setup.teacher_layers,
        steps=setup.teacher_steps,
        nuisance_scale=setup.nuisance_scale,
        recover_steps=setup.teacher_recover_steps,
        seed=setup.seed,
    )
    pretrained = tiny_encoder(
        "bert",
        head="sequence_classification",
        vocab_size=task.vocab_size,
        hidden_size=setup.student_hidden,
        num_layers=setup.student_layers,
        num_heads=2,
        max_position_embeddings=64,
        seed=setup.seed + 1,
    )
    finetuned = finetune(
        copy.deepcopy(pretrained), labelled, setup.student_ft_steps, lr=setup.lr, seed=setup.seed
    )
    results: dict = {
        "setup": asdict(setup),
        "teacher_acc": accuracy(teacher, test),
        "student_finetuned_acc": accuracy(finetuned, test),
    }
    _say(verbose, "teacher/student", results, round(time.time() - t0, 1))
    collate = PadCollator()
    with tempfile.TemporaryDirectory() as tmp:
        a1 = _args(tmp, setup, setup.stage1_steps, 0.0)
        t_stage1 = FilterTrainer(
            teacher, a1, student=finetuned, train_dataset=stage1_data, data_collator=collate
        )
        t_stage1.train()
        s_stage1 = FilterTrainer(
            copy.deepcopy(finetuned),
            a1,
            teacher=teacher,
            train_dataset=stage1_data,
            data_collator=collate,
        )
        s_stage1.train()
        t_filters, s_filters = t_stage1.filters, s_stage1.filters
        last = max(t_filters.layers)
        probe_set = test.select(range(min(500, len(test))))
        results["probe_raw"] = probe_report(teacher, probe_set, task, last)
        results["probe_filtered"] = probe_report(teacher, probe_set, task, last, t_filters)
        _say(verbose, "probes", results["probe_raw"], results["probe_filtered"])
        base = finetuned if setup.init_protocol == "same" else pretrained
        arms = {
            "kd": (KDTrainer, base, setup.ted_mse_alpha, {}),
            "lwd": (LayerwiseTrainer, base, setup.lwd_mse_alpha, {}),
            "ted": (
                TEDTrainer,
                finetuned,
                setup.ted_mse_alpha,
                {"teacher_filters": t_filters, "student_filters": s_filters},
            ),
        }
        for name, (cls, init, mse_alpha, extra) in arms.items():
            student = copy.deepcopy(init)
            trainer = cls(
                student,
                _args(tmp, setup, setup.distill_steps, mse_alpha),
                teacher=teacher,
                train_dataset=labelled,
                data_collator=collate,
                **extra,
            )
            trainer.train()
            results[f"{name}_acc"] = accuracy(student, test)
            _say(verbose, name, results[f"{name}_acc"], round(time.time() - t0, 1))
    results["seconds"] = round(time.time() - t0, 1)
    torch.set_grad_enabled(True)
    return results


@dataclass
class LMSetup:
    """Causal-LM continual pre-training: GPT-2 teacher 4×64 → student 2×32 on a Markov LM."""

    seed: int = 0
    n_train: int = 1000
    n_test: int = 200
    seq_len: int = 32
    teacher_steps: int = 300
    student_pre_steps: int = 50
    stage1_steps: int = 60
    distill_steps: int = 150
    lr: float = 2e-3
    kl_alpha: float = 1.0
    ted_mse_alpha: float = 10.0
    lwd_mse_alpha: float = 1.0


def run_lm(setup: LMSetup | None = None) -> dict:
    """Perplexity of KD / LWD / TED students (same init, same steps) and of the teacher."""
    from lmlab_common import tiny_causal_lm

    from .synthetic import markov_lm_dataset, perplexity

    setup = setup or LMSetup()
    t0 = time.time()
    set_seed(setup.seed)
    train = markov_lm_dataset(setup.n_train, setup.seq_len, seed=setup.seed, split_seed=1)
    test = markov_lm_dataset(setup.n_test, setup.seq_len, seed=setup.seed, split_seed=2)
    vocab = 5 + 48
    teacher = tiny_causal_lm("gpt2", vocab, 64, 4, 4, seed=setup.seed)
    teacher = finetune(teacher, train, setup.teacher_steps, lr=setup.lr, seed=setup.seed)
    student = tiny_causal_lm("gpt2", vocab, 32, 2, 2, seed=setup.seed + 1)
    student = finetune(student, train, setup.student_pre_steps, lr=setup.lr, seed=setup.seed)
    results: dict = {
        "setup": asdict(setup),
        "teacher_ppl": perplexity(teacher, test),
        "student_init_ppl": perplexity(student, test),
    }
    collate = PadCollator(causal_lm=True)
    lm_setup = ClaimSetup(seed=setup.seed, lr=setup.lr, kl_alpha=setup.kl_alpha)
    with tempfile.TemporaryDirectory() as tmp:
        a1 = _args(tmp, lm_setup, setup.stage1_steps, 0.0)
        ft = FilterTrainer(teacher, a1, student=student, train_dataset=train, data_collator=collate)
        ft.train()
        fs = FilterTrainer(
            copy.deepcopy(student), a1, teacher=teacher, train_dataset=train, data_collator=collate
        )
        fs.train()
        arms = {
            "kd": (KDTrainer, setup.ted_mse_alpha, {}),
            "lwd": (LayerwiseTrainer, setup.lwd_mse_alpha, {}),
            "ted": (
                TEDTrainer,
                setup.ted_mse_alpha,
                {"teacher_filters": ft.filters, "student_filters": fs.filters},
            ),
        }
        for name, (cls, mse_alpha, extra) in arms.items():
            s = copy.deepcopy(student)
            trainer = cls(
                s,
                _args(tmp, lm_setup, setup.distill_steps, mse_alpha),
                teacher=teacher,
                train_dataset=train,
                data_collator=collate,
                **extra,
            )
            trainer.train()
            results[f"{name}_ppl"] = perplexity(s, test)
    results["seconds"] = round(time.time() - t0, 1)
    return results
