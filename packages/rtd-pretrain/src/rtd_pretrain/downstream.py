"""Downstream checks of a pre-trained encoder: a frozen-feature linear probe and a short
fine-tune, plus the real-text task used by ``reproduce`` (topic of a Python help sentence)."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

import torch
from lmlab_common import mean_pool
from torch import nn
from transformers import AutoModel

_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def topic_task(
    n_topics: int = 6, per_topic: int | None = None, seed: int = 0
) -> tuple[list[str], list[int], list[str]]:
    """Real-text topic classification from the standard library's ``pydoc_data.topics``:
    each sentence (40-200 characters) is labelled with the help topic it comes from; the
    ``n_topics`` topics with the most sentences are kept, balanced to the same count.

    Returns ``(texts, labels, topic_names)``, shuffled by ``seed``.
    """
    from pydoc_data.topics import topics

    by_topic: dict[str, list[str]] = {}
    for key in sorted(topics):
        found = []
        for paragraph in re.split(r"\n\s*\n", topics[key]):
            for sentence in _SPLIT.split(" ".join(paragraph.split())):
                if 40 <= len(sentence) <= 200 and sentence[0].isalpha() and ">>>" not in sentence:
                    found.append(sentence)
        by_topic[key] = sorted(set(found))
    names = sorted(by_topic, key=lambda k: (-len(by_topic[k]), k))[:n_topics]
    count = per_topic or min(len(by_topic[k]) for k in names)
    rng = random.Random(seed)
    rows = []
    for label, name in enumerate(names):
        pool = list(by_topic[name])
        rng.shuffle(pool)
        rows += [(text, label) for text in pool[:count]]
    rng.shuffle(rows)
    return [r[0] for r in rows], [r[1] for r in rows], names


def _encode(tokenizer, texts, max_length=64):
    enc = tokenizer(list(texts), truncation=True, max_length=max_length, padding=True,
                    return_tensors="pt")  # fmt: skip
    return enc["input_ids"], enc["attention_mask"]


@torch.no_grad()
def pooled_features(model_dir: str, tokenizer, texts, batch_size: int = 64) -> torch.Tensor:
    """Mean-pooled last hidden states ``(N, H)`` of the encoder saved in ``model_dir``."""
    encoder = AutoModel.from_pretrained(model_dir).eval()
    ids, attn = _encode(tokenizer, texts)
    out = []
    for i in range(0, ids.shape[0], batch_size):
        h = encoder(input_ids=ids[i : i + batch_size], attention_mask=attn[i : i + batch_size])
        m = attn[i : i + batch_size, :, None].float()
        out.append((h.last_hidden_state * m).sum(1) / m.sum(1))
    return torch.cat(out)


def linear_probe(
    train_x: torch.Tensor, train_y: Sequence[int], test_x: torch.Tensor, test_y: Sequence[int],
    steps: int = 300, seed: int = 0,
) -> float:  # fmt: skip
    """Accuracy of a logistic-regression probe (standardised features, Adam, wd 1e-3)."""
    gen = torch.Generator().manual_seed(seed)
    mu, sd = train_x.mean(0), train_x.std(0) + 1e-6
    xtr, xte = (train_x - mu) / sd, (test_x - mu) / sd
    ytr, yte = torch.as_tensor(train_y), torch.as_tensor(test_y)
    n_cls = int(max(ytr.max(), yte.max())) + 1
    w = torch.nn.Linear(xtr.shape[1], n_cls)
    with torch.no_grad():
        w.weight.copy_(torch.randn(w.weight.shape, generator=gen) * 0.01)
        w.bias.zero_()
    opt = torch.optim.Adam(w.parameters(), lr=1e-2, weight_decay=1e-3)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(w(xtr), ytr).backward()
        opt.step()
    with torch.no_grad():
        return float((w(xte).argmax(-1) == yte).float().mean())


class MeanPoolClassifier(nn.Module):
    """An encoder with one linear layer on the mean of its last hidden states over the
    non-padding tokens: ``forward(input_ids, attention_mask) -> logits (B, num_labels)``.

    Used instead of ``AutoModelForSequenceClassification``, whose DeBERTa head (a fresh
    ``dense → GELU`` pooler on the [CLS] state, then dropout and a linear layer) fine-tuned
    every pre-trained encoder here far below a randomly initialised one: on the topic task
    (2 × 64, 200 steps, lr 1e-3) an MLM-pre-trained encoder reached 29.2 % (train 66 %)
    against 59.2 % from random init, while with this head it reaches 61.9 % vs 64.2 %.
    """

    def __init__(self, encoder: nn.Module, num_labels: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.classifier = nn.Linear(encoder.config.hidden_size, num_labels)
        nn.init.normal_(self.classifier.weight, std=encoder.config.initializer_range)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.classifier(mean_pool(hidden, attention_mask))


def fine_tune(
    model_dir: str, tokenizer, train: tuple[list[str], list[int]],
    test: tuple[list[str], list[int]], steps: int = 150, batch_size: int = 32,
    learning_rate: float = 3e-4, seed: int = 0,
) -> float:  # fmt: skip
    """Test accuracy after fine-tuning the encoder in ``model_dir`` with a
    :class:`MeanPoolClassifier` head (AdamW, linear decay, seeded batches)."""
    torch.manual_seed(seed)
    n_labels = max(max(train[1]), max(test[1])) + 1
    model = MeanPoolClassifier(AutoModel.from_pretrained(model_dir), n_labels)
    ids, attn = _encode(tokenizer, train[0])
    y = torch.as_tensor(train[1])
    opt = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1 - s / steps))
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        idx = torch.randint(ids.shape[0], (batch_size,), generator=gen)
        loss = nn.functional.cross_entropy(model(ids[idx], attn[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
    model.eval()
    tids, tattn = _encode(tokenizer, test[0])
    with torch.no_grad():
        pred = torch.cat([
            model(tids[i : i + 64], tattn[i : i + 64]).argmax(-1)
            for i in range(0, tids.shape[0], 64)
        ])  # fmt: skip
    return float((pred == torch.as_tensor(test[1])).float().mean())
