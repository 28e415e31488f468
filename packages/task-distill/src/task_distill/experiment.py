"""The claim experiment: one seeded run of TED vs KD vs LWD from the same student.

Shared by ``tests/task_distill/test_claim.py`` and ``task-distill reproduce``; also holds the
plain training loops the experiments use to build teachers and fine-tuned students.
"""

from __future__ import annotations

import copy
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

import torch
from datasets import Dataset
from lmlab_common import set_seed, tiny_encoder
from transformers import PreTrainedModel

from .config import TEDConfig
from .data import PadCollator
from .evaluation import accuracy, probe_report
from .tasks import N_SPECIAL, NuisanceTask, iterate_batches
from .trainer import FilterTrainer, KDTrainer, LayerwiseTrainer, TEDTrainer


def train_nuisance_teacher(
    task: NuisanceTask,
    train: Dataset,
    hidden_size: int = 64,
    num_layers: int = 2,
    steps: int = 200,
    recover_steps: int = 100,
    batch_size: int = 32,
    lr: float = 1e-3,
    nuisance_scale: float = 2.0,
    seed: int = 0,
) -> PreTrainedModel:
    """A BERT teacher whose states are dominated by two nuisance variables (plain loops).

    The teacher is first trained on the label (``steps``). Then fixed random ±1 codes of each
    token's *style* and of each *position* are added to the word / position embeddings, scaled
    to ``nuisance_scale`` × the RMS of the trained embedding entries, and training on the label
    continues for ``recover_steps``. Every layer's residual stream then carries these
    high-variance, label-independent directions.
    """
    torch.manual_seed(seed)
    model = tiny_encoder(
        "bert",
        head="sequence_classification",
        vocab_size=task.vocab_size,
        hidden_size=hidden_size,
        num_layers=num_layers,
        num_heads=4,
        max_position_embeddings=64,
        seed=seed,
    )
    clean = train.remove_columns("styles")
    model = finetune(model, clean, steps, batch_size, lr, seed)
    g = torch.Generator().manual_seed(task.seed + 104729)
    style_codes = torch.randint(0, 2, (task.n_styles, hidden_size), generator=g).float() * 2 - 1
    pos_codes = torch.randint(0, 2, (64, hidden_size), generator=g).float() * 2 - 1
    emb = model.bert.embeddings
    with torch.no_grad():
        ids = torch.arange(N_SPECIAL, task.vocab_size)
        words = emb.word_embeddings.weight
        scale = nuisance_scale * float(words[ids].pow(2).mean().sqrt())
        words[ids] += scale * style_codes[(ids - N_SPECIAL) % task.n_styles]
        emb.position_embeddings.weight += scale * pos_codes
    return finetune(model, clean, recover_steps, batch_size, lr, seed + 1)


def finetune(
    model: PreTrainedModel,
    train: Dataset,
    steps: int,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
) -> PreTrainedModel:
    """Plain task fine-tuning (used to build the task-fine-tuned student); returns ``model``."""
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    causal = "CausalLM" in type(model).__name__ or "LMHead" in type(model).__name__
    batches = iterate_batches(train, batch_size, seed, causal_lm=causal)
    for _ in range(steps):
        b = next(batches)
        b.pop("styles", None)
        loss = model(**b).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


ARMS = ("finetune", "kd", "lwd", "ted", "ted_official")


@dataclass
class ArmSettings:
    """Loss weights of the distillation arms (shared by every experiment)."""

    seed: int = 0
    lr: float = 1e-3
    batch_size: int = 32
    kl_alpha: float = 1.0
    ted_mse_alpha: float = 1.0
    lwd_mse_alpha: float = 1.0
    layer_loss_scale: str = "teacher"
    official_mse_alpha: float = 100.0  # "ted_official": raw (unnormalised) MSE, this weight


def distill_arms(
    arms: tuple[str, ...],
    settings: ArmSettings,
    teacher: PreTrainedModel,
    student: PreTrainedModel,
    stage1_data: Dataset,
    train_data: Dataset,
    stage1_steps: int,
    steps: int,
    collate: PadCollator,
    score,
    kd_init: PreTrainedModel | None = None,
    on_arm=None,
) -> dict:
    """Stage I once (if a TED arm runs), then each arm from a copy of ``student``.

    ``score(model) -> float`` evaluates a trained student; results are ``{arm: score}`` plus
    ``"stage1"`` (teacher / student filters). ``kd_init`` starts KD / LWD / finetune from
    another model (the official asymmetric protocol). ``on_arm(name, value)`` after each arm.
    """
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        raise ValueError(f"arms={list(arms)!r} is invalid; allowed: a subset of {ARMS}")
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:

        def make_args(arm_steps, mse_alpha=0.0, scale=settings.layer_loss_scale):
            return TEDConfig(
                output_dir=tmp,
                max_steps=arm_steps,
                per_device_train_batch_size=settings.batch_size,
                learning_rate=settings.lr,
                warmup_steps=0,
                kl_alpha=settings.kl_alpha,
                mse_alpha=mse_alpha,
                layer_loss_scale=scale,
                use_cpu=True,
                save_strategy="no",
                report_to="none",
                logging_steps=max(arm_steps, 1),
                disable_tqdm=True,
                seed=settings.seed,
                data_seed=settings.seed,
            )

        filters: dict = {}
        if any(a.startswith("ted") for a in arms):
            a1 = make_args(stage1_steps)
            ft = FilterTrainer(
                teacher, a1, student=student, train_dataset=stage1_data, data_collator=collate
            )
            ft.train()
            fs = FilterTrainer(
                student, a1, teacher=teacher, train_dataset=stage1_data, data_collator=collate
            )
            fs.train()
            filters = {"teacher_filters": ft.filters, "student_filters": fs.filters}
            results["stage1"] = filters
        for name in arms:
            init = kd_init if kd_init is not None and not name.startswith("ted") else student
            model = copy.deepcopy(init)
            if name == "finetune":
                finetune(model, train_data, steps, settings.batch_size, settings.lr, settings.seed)
            else:
                cls, extra, alpha, scale = {
                    "kd": (KDTrainer, {}, 0.0, settings.layer_loss_scale),
                    "lwd": (LayerwiseTrainer, {}, settings.lwd_mse_alpha,
                            settings.layer_loss_scale),
                    "ted": (TEDTrainer, filters, settings.ted_mse_alpha,
                            settings.layer_loss_scale),
                    "ted_official": (TEDTrainer, filters, settings.official_mse_alpha, "none"),
                }[name]  # fmt: skip
                trainer = cls(
                    model,
                    make_args(steps, alpha, scale),
                    teacher=teacher,
                    train_dataset=train_data,
                    data_collator=collate,
                    **extra,
                )
                trainer.train()
            results[name] = score(model)
            if on_arm is not None:
                on_arm(name, results[name])
    torch.set_grad_enabled(True)
    return results


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
    ted_mse_alpha: float = 1.0
    lwd_mse_alpha: float = 1.0
    layer_loss_scale: str = "teacher"
    official_mse_alpha: float = 100.0
    init_protocol: str = "same"  # "same": every arm from the fine-tuned student; "official"
    arms: tuple[str, ...] = ("kd", "lwd", "ted")

    def settings(self) -> ArmSettings:
        return ArmSettings(
            seed=self.seed,
            lr=self.lr,
            kl_alpha=self.kl_alpha,
            ted_mse_alpha=self.ted_mse_alpha,
            lwd_mse_alpha=self.lwd_mse_alpha,
            layer_loss_scale=self.layer_loss_scale,
            official_mse_alpha=self.official_mse_alpha,
        )


def _say(verbose: bool, *parts) -> None:
    if verbose:
        print("[task-distill]", *parts, file=sys.stderr, flush=True)


def run_claim(setup: ClaimSetup | None = None, verbose: bool = False, on_arm=None) -> dict:
    """Teacher → fine-tuned student → stage I → the arms; accuracies (``<arm>_acc``), probes."""
    setup = setup or ClaimSetup()
    t0 = time.time()
    set_seed(setup.seed)
    task = NuisanceTask(seed=setup.seed, n_contents=16, n_styles=16, min_len=8, max_len=12)
    big = task.dataset(setup.n_teacher_train, split_seed=1)
    test = task.dataset(setup.n_test, split_seed=2)
    labelled = big.select(range(setup.n_labelled)).remove_columns("styles")
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
    arms = distill_arms(
        setup.arms,
        setup.settings(),
        teacher,
        finetuned,
        big.remove_columns("styles"),
        labelled,
        setup.stage1_steps,
        setup.distill_steps,
        PadCollator(),
        lambda m: accuracy(m, test),
        kd_init=pretrained if setup.init_protocol == "official" else None,
        on_arm=lambda name, value: (
            _say(verbose, name, value, round(time.time() - t0, 1)),
            on_arm and on_arm(name, value),
        ),
    )
    stage1 = arms.pop("stage1", None)
    results.update({f"{name}_acc": value for name, value in arms.items()})
    if stage1 is not None:
        t_filters = stage1["teacher_filters"]
        last = max(t_filters.layers)
        probe_set = test.select(range(min(500, len(test))))
        results["probe_raw"] = probe_report(teacher, probe_set, task, last)
        results["probe_filtered"] = probe_report(teacher, probe_set, task, last, t_filters)
    results["seconds"] = round(time.time() - t0, 1)
    return results
