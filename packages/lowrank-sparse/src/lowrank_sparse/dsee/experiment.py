"""DSEE's claim experiment at small scale, on the real all-MiniLM-L6-v2 weights.

The toy task: sentiment with negation and distractors ("the service was not terrible, said my
friend" is positive). The label is the adjective's polarity flipped by a negation, so a frozen
encoder with a linear head does not solve it and the encoder has to adapt. Real English
sentences from ``pydoc_data`` can be prepended as context (``context``).

Arms, same data, steps and seed: full fine-tuning; head only (frozen encoder, linear probe);
DSEE (q/v low-rank + sparse updates + head, < 1% trainable); DSEE after removing 3 of the 12
heads per layer by the |delta W| score, then a short fine-tune (the paper's structured stage).
Used by the claim test and the DSEE section of ``lowrank-sparse reproduce``.
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass, field

import torch
from lmlab_common import english_sentences, minilm_path, progress, require, set_seed, tokenize
from torch import nn

from .config import DSEEConfig
from .model import apply_dsee, parameter_report
from .prune import prune_dsee

SUBJECTS = [
    "the film", "the service", "the food", "the hotel", "the book", "the concert", "the game",
    "the lecture", "the trip", "the app", "the meeting", "the course", "the show", "the car",
    "the phone", "the room", "the staff", "the song", "the update", "the design",
]  # fmt: skip
POSITIVE = [
    "great", "excellent", "wonderful", "pleasant", "brilliant", "superb", "delightful",
    "enjoyable", "impressive", "good", "lovely", "fantastic",
]  # fmt: skip
NEGATIVE = [
    "terrible", "awful", "boring", "dreadful", "poor", "disappointing", "horrible", "bad",
    "annoying", "mediocre", "painful", "useless",
]  # fmt: skip
NEGATIONS = ["not", "never", "hardly", "by no means"]
TAILS = ["", ", said my friend", ", I think", " overall", ", honestly", " this time"]
TEMPLATES = [
    "{s} was {n}{a}{t}.",
    "I found {s} {n}{a}{t}.",
    "Everyone agreed that {s} was {n}{a}{t}.",
    "In the end {s} seemed {n}{a}{t}.",
]


@dataclass
class SentimentExample:
    text: str
    label: int  # 1 positive, 0 negative


def negation_sentiment(n: int, seed: int = 0, context: float = 0.5) -> list[SentimentExample]:
    """``n`` balanced examples; with probability ``context`` a real sentence is prepended."""
    require(isinstance(n, int) and n > 0, "n", n, "an int > 0")
    require(0.0 <= context <= 1.0, "context", context, "a number in [0, 1]")
    rng = random.Random(seed)
    real = list(english_sentences(seed=seed, max_chars=90))
    out = []
    for i in range(n):
        positive_adj = rng.random() < 0.5
        negated = rng.random() < 0.5
        adj = rng.choice(POSITIVE if positive_adj else NEGATIVE)
        neg = rng.choice(NEGATIONS) + " " if negated else ""
        text = rng.choice(TEMPLATES).format(
            s=rng.choice(SUBJECTS), n=neg, a=adj, t=rng.choice(TAILS)
        )
        text = text[0].upper() + text[1:]
        if rng.random() < context:
            text = real[i % len(real)] + " " + text
        out.append(SentimentExample(text, int(positive_adj != negated)))
    return out


@dataclass
class ClaimSettings:
    steps: int = 100  # training steps of every arm
    prune_steps: int = 20  # fine-tune steps after head removal
    batch_size: int = 16
    n_train: int = 2000
    n_test: int = 400
    context: float = 0.0  # fraction of examples with a real sentence prepended
    full_lr: float = 1e-4
    dsee_lr: float = 1e-3
    head_lr: float = 1e-3
    heads_per_layer: int = 3
    seed: int = 0
    max_length: int = 48
    # GreBsmo: the official 100 steps of +5 rank; CI uses fewer, larger steps to the same cap
    grebsmo_iters: int = 100
    grebsmo_rank_step: int = 5


@dataclass
class ClaimResult:
    settings: ClaimSettings
    accuracy: dict[str, float] = field(default_factory=dict)
    trainable_fraction: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    macs_saved_by_heads: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def _encoder(tokenizer, examples: list[SentimentExample], max_length: int):
    batch = tokenize(tokenizer, [e.text for e in examples], max_length)
    return batch, torch.tensor([e.label for e in examples])


def _train(model: nn.Module, data, tokenizer, s: ClaimSettings, lr: float, steps: int, seed: int):
    """AdamW, 10-step warmup then linear decay, random batches drawn with ``seed``."""
    g = torch.Generator().manual_seed(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda k: min(1.0, (k + 1) / 10) * max(0.0, 1 - k / steps)
    )
    model.train()
    for _ in progress(range(steps), desc="train", total=steps):
        idx = torch.randint(0, len(data), (s.batch_size,), generator=g).tolist()
        batch, labels = _encoder(tokenizer, [data[i] for i in idx], s.max_length)
        model(**batch, labels=labels).loss.backward()
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
    model.eval()


@torch.no_grad()
def _accuracy(model: nn.Module, batch, labels) -> float:
    model.eval()
    return (model(**batch).logits.argmax(-1) == labels).float().mean().item()


def run_claim(settings: ClaimSettings | None = None, arms: tuple[str, ...] = ()) -> ClaimResult:
    """Train every arm (default all: full, head, dsee, dsee_pruned) and return accuracies."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    s = settings or ClaimSettings()
    arms = arms or ("full", "head", "dsee")
    path = minilm_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    train = negation_sentiment(s.n_train, seed=s.seed, context=s.context)
    test = negation_sentiment(s.n_test, seed=s.seed + 1000, context=s.context)
    test_batch, test_labels = _encoder(tokenizer, test, s.max_length)
    result = ClaimResult(settings=s)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "newly initialized classifier" is expected here
    try:
        for arm in arms:
            start = time.perf_counter()
            set_seed(s.seed)
            model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)
            total = sum(p.numel() for p in model.parameters())
            if arm == "full":
                lr = s.full_lr
            elif arm == "head":
                for name, p in model.named_parameters():
                    p.requires_grad_(not name.startswith(model.base_model_prefix + "."))
                lr = s.head_lr
            elif arm == "dsee":
                config = DSEEConfig(
                    seed=s.seed,
                    grebsmo_iters=s.grebsmo_iters,
                    grebsmo_rank_step=s.grebsmo_rank_step,
                )
                apply_dsee(model, config)
                lr = s.dsee_lr
            else:
                raise ValueError(f"arms={arms!r} is invalid; allowed: full, head, dsee")
            trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
            if arm == "dsee":
                trainable = parameter_report(model).trainable
            result.trainable_fraction[arm] = trainable / total
            _train(model, train, tokenizer, s, lr, s.steps, s.seed)
            result.accuracy[arm] = _accuracy(model, test_batch, test_labels)
            result.seconds[arm] = time.perf_counter() - start
            if arm == "dsee" and s.heads_per_layer > 0:
                start = time.perf_counter()
                report = prune_dsee(model, heads_per_layer=s.heads_per_layer)
                result.macs_saved_by_heads = report.macs_saved
                result.accuracy["dsee_pruned_no_ft"] = _accuracy(model, test_batch, test_labels)
                _train(model, train, tokenizer, s, s.dsee_lr, s.prune_steps, s.seed + 1)
                result.accuracy["dsee_pruned"] = _accuracy(model, test_batch, test_labels)
                result.seconds["dsee_pruned"] = time.perf_counter() - start
    finally:
        hf_logging.set_verbosity(verbosity)
    return result
