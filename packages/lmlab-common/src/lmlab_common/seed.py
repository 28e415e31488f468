"""Seeding, determinism and device choice."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def set_seed(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch (all devices).

    With ``deterministic=True`` torch is also asked for deterministic kernels, which is
    slower and raises on ops that have none.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed={seed!r} is invalid; allowed: an int >= 0")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)


def get_device(prefer: str | None = None) -> torch.device:
    """Return ``prefer`` if given, else CUDA, then MPS, then CPU."""
    if prefer is not None:
        try:
            return torch.device(prefer)
        except RuntimeError as err:
            raise ValueError(
                f"prefer={prefer!r} is not a device; allowed: 'cpu', 'cuda', 'cuda:N', 'mps'"
            ) from err
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
