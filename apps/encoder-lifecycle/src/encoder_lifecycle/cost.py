"""What a model costs: stored numbers and CPU latency (all models timed round-robin)."""

from __future__ import annotations

import statistics
import time

import torch
from task_distill import PadCollator
from torch import nn


def count_parameters(model: nn.Module) -> int:
    """Every stored number the model needs: unique state-dict tensors (compact LoSparse rows
    included, tied or shared tensors once, position-id buffers left out)."""
    seen, total = set(), 0
    for name, tensor in model.state_dict().items():
        key = (tensor.data_ptr(), tuple(tensor.shape))
        if "position_ids" in name or key in seen:
            continue
        seen.add(key)
        total += tensor.numel()
    return total


@torch.inference_mode()
def latencies_ms(
    models: dict[str, nn.Module],
    rows: list[list[int]],
    pad_id: int,
    batch_size: int,
    repeats: int = 10,
) -> dict[str, float]:
    """Median wall time (ms) of one forward pass on ``batch_size`` test sentences, per model.

    Models are timed round-robin in one loop, so load on a shared machine hits all alike.
    """
    picked = (rows * batch_size)[:batch_size]
    batch = PadCollator(pad_id)([{"input_ids": r} for r in picked])
    for model in models.values():
        model.eval()
        model(**batch)  # warm-up
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            start = time.perf_counter()
            model(**batch)
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}
