"""Metrics and probes of the experiments: accuracy, perplexity, linear probes of states."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from datasets import Dataset
from transformers import PreTrainedModel

from .data import PadCollator
from .tasks import NuisanceTask


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
