"""What a model costs: parameters, bytes on disk, CPU latency at a fixed batch size."""

from __future__ import annotations

import io
import os
import statistics
import tempfile
import time

import torch
from lmlab_common import embed_batch, save_tensors, tokenize
from torch import nn
from transformers import PreTrainedTokenizerBase

from .quantize import int8_linears, int8_weight_count, weight_only_linears


def count_parameters(model: nn.Module) -> int:
    """Every stored number a model needs to run: parameters plus persistent buffers (plus the
    packed int8 weights of dynamically quantized layers, which are not parameters)."""
    params = sum(p.numel() for p in model.parameters()) + int8_weight_count(model)
    buffers = sum(b.numel() for name, b in model.named_buffers() if "position_ids" not in name)
    return params + buffers


def disk_bytes(model: nn.Module) -> int:
    """Size of the whole state dict as one safetensors file (shared tensors stored once).

    A model with int8 quantized layers (packed weights and torchao tensor subclasses are not
    plain tensors) is measured as its ``torch.save`` state dict instead."""
    if int8_linears(model) or weight_only_linears(model):
        buffer = io.BytesIO()
        torch.save(model.state_dict(), buffer)
        return buffer.getbuffer().nbytes
    state = {}
    seen = set()
    for name, tensor in model.state_dict().items():
        key = (tensor.data_ptr(), tensor.shape, tensor.stride()) if tensor.numel() else name
        if key in seen:
            continue
        seen.add(key)
        state[name] = tensor
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.safetensors")
        save_tensors(state, path)
        return os.path.getsize(path)


@torch.inference_mode()
def latencies_ms(
    models: dict[str, nn.Module],
    tokenizer: PreTrainedTokenizerBase,
    sentences: list[str],
    batch_size: int,
    repeats: int = 10,
) -> dict[str, float]:
    """Median wall time (ms) of a forward pass + pooling on ``batch_size`` sentences, per model.

    Models are timed round-robin in the same loop, so load on a shared machine hits all of
    them alike and their ratios stay meaningful.
    """
    batch = tokenize(tokenizer, (sentences * batch_size)[:batch_size])
    for model in models.values():
        model.eval()
        embed_batch(model, batch)  # warm-up
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            start = time.perf_counter()
            embed_batch(model, batch)
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}
