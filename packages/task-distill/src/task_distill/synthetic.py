"""Seeded synthetic tasks for tests and ``reproduce``.

**Nuisance classification.** Every token is a (content, style) pair, id ``5 + c·S + s``. The
label is whether "positive" contents outnumber "negative" ones; it is independent of the
styles. The teacher carries large random codes of two nuisance variables (each token's style
and its position) in its embeddings, so its raw states at every layer are dominated by
task-irrelevant variance — the premise of TED. With 16 styles and up to 14 positions the
nuisance spans more directions than a 16-wide student has.

**Markov LM.** Sequences from a seeded sparse second-order Markov chain, for the causal-LM
continual pre-training scenario.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from datasets import Dataset
from lmlab_common import tiny_encoder
from transformers import PreTrainedModel

from .data import PadCollator

N_SPECIAL, CLS_ID, SEP_ID = 5, 2, 3


@dataclass
class NuisanceTask:
    """Sizes of the nuisance classification task (all seeded by ``seed``)."""

    n_contents: int = 8
    n_styles: int = 8
    min_len: int = 12
    max_len: int = 16
    seed: int = 0

    @property
    def vocab_size(self) -> int:
        return N_SPECIAL + self.n_contents * self.n_styles

    def content_signs(self) -> np.ndarray:
        rng = np.random.default_rng(self.seed + 7919)
        signs = np.array(
            [1] * (self.n_contents // 2) + [-1] * (self.n_contents - self.n_contents // 2)
        )
        return rng.permutation(signs)

    def dataset(self, n: int, split_seed: int) -> Dataset:
        """``n`` examples: ``input_ids`` ([CLS] tokens [SEP]), ``labels``, ``styles``."""
        rng = np.random.default_rng([self.seed, split_seed])
        signs = self.content_signs()
        rows: dict[str, list] = {"input_ids": [], "labels": [], "styles": []}
        while len(rows["labels"]) < n:
            length = int(rng.integers(self.min_len, self.max_len + 1))
            contents = rng.integers(0, self.n_contents, length)
            score = int(signs[contents].sum())
            if score == 0:
                continue  # no ties: the label is always defined
            styles = rng.integers(0, self.n_styles, length)
            ids = N_SPECIAL + contents * self.n_styles + styles
            rows["input_ids"].append([CLS_ID, *ids.tolist(), SEP_ID])
            rows["labels"].append(int(score > 0))
            rows["styles"].append([0, *styles.tolist(), 0])
        return Dataset.from_dict(rows)


def _batches(ds: Dataset, batch_size: int, seed: int, causal_lm: bool = False):
    collate = PadCollator(causal_lm=causal_lm)
    g = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(len(ds), generator=g).tolist()
        for i in range(0, len(order) - batch_size + 1, batch_size):
            rows = [ds[j] for j in order[i : i + batch_size]]
            batch = collate([{k: r[k] for k in ("input_ids", "labels") if k in r} for r in rows])
            if "styles" in rows[0]:
                batch["styles"] = PadCollator()([{"input_ids": r["styles"]} for r in rows])[
                    "input_ids"
                ]
            yield batch


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
    batches = _batches(train, batch_size, seed, causal_lm=causal)
    for _ in range(steps):
        b = next(batches)
        b.pop("styles", None)
        loss = model(**b).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


@torch.no_grad()
def accuracy(model: PreTrainedModel, ds: Dataset, batch_size: int = 256) -> float:
    """Sequence-classification accuracy on ``ds``."""
    model.eval()
    collate = PadCollator()
    correct = 0
    for i in range(0, len(ds), batch_size):
        rows = ds[i : i + batch_size]
        b = collate(
            [
                {"input_ids": x, "labels": y}
                for x, y in zip(rows["input_ids"], rows["labels"], strict=True)
            ]
        )
        logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
        correct += int((logits.argmax(-1) == b["labels"]).sum())
    return correct / len(ds)


@torch.no_grad()
def perplexity(model: PreTrainedModel, ds: Dataset, batch_size: int = 128) -> float:
    """Token-level perplexity of a causal LM on ``ds`` (``input_ids`` only)."""
    model.eval()
    collate = PadCollator(causal_lm=True)
    total, count = 0.0, 0
    for i in range(0, len(ds), batch_size):
        b = collate([{"input_ids": x} for x in ds[i : i + batch_size]["input_ids"]])
        logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
        lbl = b["labels"][:, 1:]
        nll = F.cross_entropy(
            logits[:, :-1].reshape(-1, logits.shape[-1]),
            lbl.reshape(-1),
            ignore_index=-100,
            reduction="sum",
        )
        total += float(nll)
        count += int((lbl != -100).sum())
    return math.exp(total / max(count, 1))


def markov_lm_dataset(
    n: int,
    seq_len: int = 32,
    n_tokens: int = 48,
    branching: int = 3,
    seed: int = 0,
    split_seed: int = 0,
) -> Dataset:
    """Sequences from a seeded sparse 2nd-order Markov chain over ``n_tokens`` symbols.

    Each (previous, current) pair allows ``branching`` next symbols with random probabilities.
    Token ids start after the 5 special ids; every row starts with [CLS] (bos).
    """
    rng = np.random.default_rng(seed)
    nxt = rng.integers(0, n_tokens, (n_tokens, n_tokens, branching))
    prob = rng.dirichlet(np.ones(branching), (n_tokens, n_tokens))
    r = np.random.default_rng([seed, split_seed, 1])
    rows = []
    for _ in range(n):
        a, b = (int(x) for x in r.integers(0, n_tokens, 2))
        seq = [a, b]
        for _ in range(seq_len - 2):
            c = int(nxt[a, b, r.choice(branching, p=prob[a, b])])
            seq.append(c)
            a, b = b, c
        rows.append([CLS_ID, *(N_SPECIAL + x for x in seq)])
    return Dataset.from_dict({"input_ids": rows})


@torch.no_grad()
def probe_report(
    model: PreTrainedModel,
    ds: Dataset,
    task: NuisanceTask,
    layer: int,
    filters=None,
    ridge: float = 1e-2,
) -> dict[str, float]:
    """Linear probes on raw (or filtered) states of ``layer``, on token positions.

    - ``nuisance_share``: fraction of the states' variance explained by a linear map of the
      one-hots of the style and the position — how much of the representation the nuisance occupies.
    - ``task_probe_acc``: held-out accuracy of a ridge probe from the first-token state to the
      label (second half of ``ds`` tested, first half fitted) — whether task information stays.
    """
    collate = PadCollator()
    b = collate([{"input_ids": x} for x in ds["input_ids"]])
    st = PadCollator()([{"input_ids": s} for s in ds["styles"]])["input_ids"]
    out = model(
        input_ids=b["input_ids"], attention_mask=b["attention_mask"], output_hidden_states=True
    )
    h = out.hidden_states[layer]
    if filters is not None:
        h = filters.filters[str(layer)](h)
    real = b["attention_mask"].bool().clone()
    real[:, 0] = False  # [CLS] has no style
    lengths = b["attention_mask"].sum(1)
    real[torch.arange(len(lengths)), lengths - 1] = False  # nor [SEP]
    x = h[real].double()  # (N, D)
    pos = torch.arange(st.shape[1]).expand_as(st)[real]
    onehot = torch.cat(
        [F.one_hot(st[real], task.n_styles), F.one_hot(pos, st.shape[1])], dim=1
    ).double()
    xc = x - x.mean(0)
    coef = torch.linalg.lstsq(onehot, xc).solution
    resid = xc - onehot @ coef
    share = 1.0 - float(resid.pow(2).sum() / xc.pow(2).sum())
    cls = h[:, 0].double()
    y = torch.as_tensor(ds["labels"]).double() * 2 - 1
    half = len(y) // 2
    a = torch.cat([cls, torch.ones(len(y), 1, dtype=torch.double)], 1)
    w = torch.linalg.solve(
        a[:half].T @ a[:half] + ridge * torch.eye(a.shape[1], dtype=torch.double),
        a[:half].T @ y[:half],
    )
    acc = float(((a[half:] @ w > 0).double() * 2 - 1 == y[half:]).double().mean())
    return {"nuisance_share": share, "task_probe_acc": acc}
