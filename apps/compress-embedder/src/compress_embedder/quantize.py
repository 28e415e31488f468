"""The alternative users reach for first: int8 dynamic quantization of the original model.

``torch.ao.quantization.quantize_dynamic`` (one line, no data) swaps every ``nn.Linear`` for a
dynamically quantized one: int8 weights with a per-tensor scale, activations quantized on the
fly, float32 outputs. Only ``nn.Linear`` modules are converted (custom layers such as the
compact LoSparse ones pass through), CPU only.
"""

from __future__ import annotations

import copy
import warnings

import torch
from torch import nn


def quantize_int8(model: nn.Module) -> nn.Module:
    """An int8 dynamically quantized copy of ``model`` (its ``nn.Linear`` layers), in eval mode."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # eager-mode quantization "moving to torchao" notice
        quantized = torch.ao.quantization.quantize_dynamic(
            copy.deepcopy(model).eval(), {nn.Linear}, dtype=torch.qint8
        )
    return quantized.eval()


def int8_linears(model: nn.Module) -> dict[str, nn.Module]:
    """``{name: module}`` of the dynamically quantized linear layers of ``model``."""
    qlinear = torch.ao.nn.quantized.dynamic.Linear
    return {n: m for n, m in model.named_modules() if isinstance(m, qlinear)}


def int8_weight_count(model: nn.Module) -> int:
    """Numbers held in the quantized layers' packed weights and biases (not ``parameters()``)."""
    total = 0
    for module in int8_linears(model).values():
        total += module.weight().numel()
        bias = module.bias()
        total += bias.numel() if bias is not None else 0
    return total
