"""Train a causal LM generator on (context, solution) pairs: next-token loss on the solution.

A short plain loop (the generator is a fixture of the synthetic experiment, not the method);
seeded, batched, loss masked to the solution and its eos.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch
from lmlab_common import progress, require_int, require_range

IGNORE = -100


def encode_pairs(tokenizer, pairs: Sequence[tuple[str, str]]) -> list[tuple[list[int], list[int]]]:
    """Token ids of every (context, solution + eos) pair, one tokenizer call per side."""
    contexts = tokenizer([c for c, _ in pairs], add_special_tokens=False)["input_ids"]
    solutions = tokenizer([s for _, s in pairs], add_special_tokens=False)["input_ids"]
    eos = tokenizer.eos_token_id
    return [(list(c), list(s) + [eos]) for c, s in zip(contexts, solutions, strict=True)]


def train_generator(
    model,
    tokenizer,
    pairs: Sequence[tuple[str, str]],
    steps: int = 1000,
    batch_size: int = 128,
    lr: float = 3e-3,
    seed: int = 0,
    show_progress: bool = True,
) -> list[float]:
    """AdamW (linear decay) on the solution tokens; returns the loss every step."""
    require_int("steps", steps, low=1)
    require_int("batch_size", batch_size, low=1)
    require_range("lr", lr, 0.0, low_inclusive=False)
    data = encode_pairs(tokenizer, pairs)
    rng = random.Random(seed)
    pad = tokenizer.pad_token_id or 0
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 - s / steps)
    device = next(model.parameters()).device
    model.train()
    losses = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for _ in progress(range(steps), desc="generator", disable=None if show_progress else True):
            batch = [data[rng.randrange(len(data))] for _ in range(batch_size)]
            width = max(len(c) + len(s) for c, s in batch)
            ids = torch.full((batch_size, width), pad, dtype=torch.long)
            labels = torch.full((batch_size, width), IGNORE, dtype=torch.long)
            mask = torch.zeros((batch_size, width), dtype=torch.long)
            for i, (c, s) in enumerate(batch):
                n = len(c) + len(s)
                ids[i, :n] = torch.tensor(c + s)
                labels[i, len(c) : n] = torch.tensor(s)
                mask[i, :n] = 1
            out = model(
                input_ids=ids.to(device), attention_mask=mask.to(device), labels=labels.to(device)
            )
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            losses.append(float(out.loss))
    model.eval()
    return losses
