"""One seed of the synthetic DIVERSE experiment, shared by ``reproduce`` and the claim test.

1. train a tiny GPT-2 generator on the strategy mixture (:mod:`.synthetic`);
2. sample paths for verifier-training questions and for held-out test questions, plus greedy;
3. label steps with the GSM8K rule; train a verifier per α (plain α = 0, step-aware α = 0.1);
4. score the test paths; vote; accuracy@k, path AUC, step AUC (vs the rule's labels).
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from lmlab_common import (
    ConfigBase,
    require,
    require_int,
    require_range,
    set_seed,
    tiny_causal_lm,
    tiny_encoder,
)

from .config import VerifierConfig, VerifierTrainingConfig
from .data import Problem
from .generator import train_generator
from .labeling import GSM8KLabeler, is_correct
from .metrics import roc_auc
from .model import StepAwareVerifier
from .prompting import sample_paths
from .synthetic import SyntheticConfig, SyntheticTask, strategy_of, synthetic_tokenizer
from .trainer import VerifierTrainer, build_verifier_dataset
from .voting import evaluate_at_k, greedy_accuracy


@dataclass
class ExperimentConfig(ConfigBase):
    """Sizes of one run (defaults: the ``reproduce`` budget)."""

    task: SyntheticConfig = field(
        default_factory=lambda: SyntheticConfig(min_steps=3, max_steps=3, max_addend=2)
    )
    generator_pairs: int = 20000
    generator_steps: int = 500
    generator_batch: int = 64
    generator_lr: float = 5e-3
    generator_width: int = 64
    train_questions: int = 300
    train_paths: int = 8
    test_questions: int = 100
    test_paths: int = 20
    temperature: float = 1.0
    verifier_width: int = 64
    verifier_layers: int = 2
    verifier_steps: int = 300
    verifier_batch: int = 32
    verifier_lr: float = 1e-3
    alphas: tuple[float, ...] = (0.0, 0.1)
    repeats: int = 10
    # Dropout of both tiny models (generator: GPT-2 resid/embd/attn; verifier: BERT hidden and
    # attention). The configs' default 0.1 kept a 2×64 GPT-2 from learning mod-10 sums in
    # gen-rank; 0.0 here (see README "Dropout").
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.task, dict):
            self.task = SyntheticConfig.from_dict(self.task)
        self.alphas = tuple(self.alphas)
        for name in ("generator_pairs", "generator_steps", "train_questions", "train_paths"):
            require_int(name, getattr(self, name), low=1)
        require_int("test_questions", self.test_questions, low=1)
        require_int("test_paths", self.test_paths, low=1)
        require_int("verifier_steps", self.verifier_steps, low=1)
        require(len(self.alphas) > 0, "alphas", self.alphas, "at least one α")
        require_range("dropout", self.dropout, 0.0, 1.0, high_inclusive=False)


def _flat(problems: list[Problem]):
    return [p.question for p in problems for _ in p.paths], [x for p in problems for x in p.paths]


def train_verifier(
    problems: list[Problem], tokenizer, cfg: ExperimentConfig, alpha: float, seed: int, out: str
) -> StepAwareVerifier:
    encoder = tiny_encoder(
        "bert",
        "token_classification",
        vocab_size=len(tokenizer),
        hidden_size=cfg.verifier_width,
        num_layers=cfg.verifier_layers,
        num_heads=2,
        num_labels=5,
        max_position_embeddings=128,
        seed=seed,
        hidden_dropout_prob=cfg.dropout,
        attention_probs_dropout_prob=cfg.dropout,
    )
    verifier = StepAwareVerifier(encoder, tokenizer, VerifierConfig(max_length=128))
    data = build_verifier_dataset(verifier, problems, GSM8KLabeler())
    args = VerifierTrainingConfig(
        output_dir=out,
        alpha=alpha,
        max_steps=cfg.verifier_steps,
        per_device_train_batch_size=cfg.verifier_batch,
        learning_rate=cfg.verifier_lr,
        lr_scheduler_type="linear",
        warmup_steps=50,
        weight_decay=0.01,
        save_strategy="no",
        logging_steps=max(cfg.verifier_steps // 5, 1),
        report_to="none",
        use_cpu=True,
        seed=seed,
        disable_tqdm=True,
    )
    VerifierTrainer(verifier, args, train_dataset=data).train()
    return verifier.eval()


def run_seed(
    cfg: ExperimentConfig, seed: int, on_arm: Callable[[dict], None] | None = None
) -> dict:
    """Run one seed; ``on_arm(partial_result)`` is called after every finished arm."""
    set_seed(seed)
    task = SyntheticTask(cfg.task, seed=seed)
    tok = synthetic_tokenizer()
    result: dict = {"seed": seed}
    gen = tiny_causal_lm(
        "gpt2",
        vocab_size=len(tok),
        hidden_size=cfg.generator_width,
        num_layers=2,
        num_heads=2,
        max_position_embeddings=160,
        seed=seed,
        resid_pdrop=cfg.dropout,
        embd_pdrop=cfg.dropout,
        attn_pdrop=cfg.dropout,
    )
    losses = train_generator(
        gen,
        tok,
        task.generator_corpus(cfg.generator_pairs),
        steps=cfg.generator_steps,
        batch_size=cfg.generator_batch,
        lr=cfg.generator_lr,
        seed=seed,
    )
    result["generator_final_loss"] = sum(losses[-20:]) / len(losses[-20:])
    train = task.problems(cfg.train_questions)
    test = task.problems(cfg.test_questions)
    for problems, n, s in ((train, cfg.train_paths, seed), (test, cfg.test_paths, seed + 1)):
        paths = sample_paths(
            gen, tok, [p.question for p in problems], [""], n, cfg.temperature, 40, 64, s
        )
        for p, ps in zip(problems, paths, strict=True):
            p.paths = ps
    greedy = sample_paths(gen, tok, [p.question for p in test], [""], 1, 0.0, 40, 64, seed)
    golds = [p.gold_answer for p in test]
    answers = [[x.answer for x in p.paths] for p in test]
    shares = Counter(strategy_of(x) for p in test for x in p.paths)
    total = sum(shares.values())
    result.update(
        greedy=greedy_accuracy([g[0].answer for g in greedy], golds),
        greedy_strategy=dict(Counter(strategy_of(g[0]) for g in greedy)),
        strategy_shares={k: v / total for k, v in sorted(shares.items())},
        path_accuracy=sum(a == g for row, g in zip(answers, golds, strict=True) for a in row)
        / total,
        train_path_accuracy=sum(is_correct(x, p.gold_answer) for p in train for x in p.paths)
        / sum(len(p.paths) for p in train),
    )
    base = evaluate_at_k(answers, golds, repeats=cfg.repeats, seed=seed)
    result["majority_vote"] = base.accuracy["majority_vote"]
    result["recall"] = base.accuracy["recall"]
    result["invalid_paths"] = base.invalid_paths
    if on_arm:
        on_arm(result)
    test_labels = GSM8KLabeler()
    step_labels = [lab for p in test for lab in test_labels.label(p)]
    questions, flat = _flat(test)
    path_ok = [is_correct(x, p.gold_answer) for p in test for x in p.paths]
    careful = [strategy_of(x) != "guess" for x in flat]
    for alpha in cfg.alphas:
        with tempfile.TemporaryDirectory() as tmp:
            verifier = train_verifier(train, tok, cfg, alpha, seed, os.path.join(tmp, "v"))
        scored = verifier.score(questions, flat, batch_size=256)
        scores, cursor = [], 0
        for p in test:
            scores.append([s.score for s in scored[cursor : cursor + len(p.paths)]])
            cursor += len(p.paths)
        report = evaluate_at_k(answers, golds, scores, ks=base.ks, repeats=cfg.repeats, seed=seed)
        step_scores = [v for s in scored for v in s.step_scores]
        flat_steps = [v for row in step_labels for v in row]
        path_scores = [s.score for s in scored]
        result[f"alpha={alpha:g}"] = {
            "verifier_top1": report.accuracy["verifier_top1"],
            "weighted_vote": report.accuracy["weighted_vote"],
            "path_auc": roc_auc(path_scores, path_ok),
            "careful_path_auc": roc_auc(
                [s for s, c in zip(path_scores, careful, strict=True) if c],
                [y for y, c in zip(path_ok, careful, strict=True) if c],
            ),
            "step_auc": roc_auc(step_scores, flat_steps),
        }
        if on_arm:
            on_arm(result)
    return result
