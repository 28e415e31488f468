"""The two other ``reproduce`` scenarios: real-text classification and causal-LM distillation.

- :func:`run_text`: BERT 4×128 teacher fine-tuned on a topic label of real English sentences
  (:class:`~task_distill.tasks.SentenceTask`), BERT 2×64 student fine-tuned on 300 labels, then
  continued fine-tuning / KD / LWD / TED / TED with the official raw layer loss, same steps.
- :func:`run_lm`: GPT-2 4×64 teacher → 2×32 student on a seeded Markov LM (continual
  pre-training), test perplexity.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass

from lmlab_common import set_seed, tiny_causal_lm, tiny_encoder

from .data import PadCollator
from .evaluation import accuracy, perplexity
from .experiment import ArmSettings, distill_arms, finetune
from .tasks import SentenceTask, markov_lm_dataset


@dataclass
class TextSetup:
    """Sizes and budgets of the real-text scenario."""

    seed: int = 0
    teacher_hidden: int = 128
    teacher_layers: int = 4
    student_hidden: int = 64
    student_layers: int = 2
    n_labelled: int = 300
    teacher_steps: int = 300
    student_ft_steps: int = 60
    stage1_steps: int = 60
    distill_steps: int = 100
    lr: float = 1e-3
    # The 4×128 teacher at lr 1e-3 (no warm-up) stalled at the majority rate on seed 1
    # (66.3% test accuracy); at 5e-4 it reaches 99.7% on that seed.
    teacher_lr: float = 5e-4
    kl_alpha: float = 1.0
    ted_mse_alpha: float = 1.0
    lwd_mse_alpha: float = 1.0
    official_mse_alpha: float = 100.0
    arms: tuple[str, ...] = ("finetune", "kd", "lwd", "ted", "ted_official")


def run_text(setup: TextSetup | None = None, on_arm=None) -> dict:
    """Test accuracy of every arm (``<arm>_acc``), the teacher and the fine-tuned student."""
    setup = setup or TextSetup()
    t0 = time.time()
    set_seed(setup.seed)
    train, test, tok = SentenceTask(seed=setup.seed).build()
    train, test = train.remove_columns("text"), test.remove_columns("text")
    labelled = train.select(range(setup.n_labelled))
    common = dict(vocab_size=len(tok), max_position_embeddings=72)
    teacher = tiny_encoder("bert", "sequence_classification", hidden_size=setup.teacher_hidden,
                           num_layers=setup.teacher_layers, num_heads=4, seed=setup.seed,
                           **common)  # fmt: skip
    teacher = finetune(teacher, train, setup.teacher_steps, lr=setup.teacher_lr, seed=setup.seed)
    student = tiny_encoder("bert", "sequence_classification", hidden_size=setup.student_hidden,
                           num_layers=setup.student_layers, num_heads=2, seed=setup.seed + 1,
                           **common)  # fmt: skip
    student = finetune(student, labelled, setup.student_ft_steps, lr=setup.lr, seed=setup.seed)
    results: dict = {
        "setup": asdict(setup),
        "positive_rate": sum(test["labels"]) / len(test),
        "teacher_acc": accuracy(teacher, test),
        "student_finetuned_acc": accuracy(student, test),
    }
    settings = ArmSettings(
        seed=setup.seed,
        lr=setup.lr,
        kl_alpha=setup.kl_alpha,
        ted_mse_alpha=setup.ted_mse_alpha,
        lwd_mse_alpha=setup.lwd_mse_alpha,
        official_mse_alpha=setup.official_mse_alpha,
    )
    arms = distill_arms(
        setup.arms, settings, teacher, student, train, labelled, setup.stage1_steps,
        setup.distill_steps, PadCollator(), lambda m: accuracy(m, test), on_arm=on_arm,
    )  # fmt: skip
    arms.pop("stage1", None)
    results.update({f"{name}_acc": value for name, value in arms.items()})
    results["seconds"] = round(time.time() - t0, 1)
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
    ted_mse_alpha: float = 1.0
    lwd_mse_alpha: float = 1.0
    official_mse_alpha: float = 10.0
    arms: tuple[str, ...] = ("finetune", "kd", "lwd", "ted", "ted_official")


def run_lm(setup: LMSetup | None = None, on_arm=None) -> dict:
    """Test perplexity of every arm (``<arm>_ppl``, same init and steps) and of the teacher."""
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
    settings = ArmSettings(
        seed=setup.seed,
        lr=setup.lr,
        kl_alpha=setup.kl_alpha,
        ted_mse_alpha=setup.ted_mse_alpha,
        lwd_mse_alpha=setup.lwd_mse_alpha,
        official_mse_alpha=setup.official_mse_alpha,
    )
    arms = distill_arms(
        setup.arms, settings, teacher, copy.deepcopy(student), train, train,
        setup.stage1_steps, setup.distill_steps, PadCollator(causal_lm=True),
        lambda m: perplexity(m, test), on_arm=on_arm,
    )  # fmt: skip
    arms.pop("stage1", None)
    results.update({f"{name}_ppl": value for name, value in arms.items()})
    results["seconds"] = round(time.time() - t0, 1)
    return results
