"""Saving and reloading every model the run makes, with reference outputs to check reloads."""

from __future__ import annotations

import os

import torch
from lmlab_common import load_tensors, save_tensors
from lowrank_sparse import LoSparseConfig, load_losparse, losparse_layers, save_losparse
from transformers import AutoConfig

from .classifier import MeanPoolDebertaClassifier

REFERENCE_FILE = "test_logits.safetensors"


def is_losparse_dir(folder: str | os.PathLike) -> bool:
    return os.path.isfile(os.path.join(folder, LoSparseConfig.config_name))


def save_classifier(model, folder: str, tokenizer, logits: torch.Tensor) -> None:
    """``save_losparse`` for LoSparse students, ``save_pretrained`` otherwise; plus the
    tokenizer and the model's test-set logits (what a reload must reproduce)."""
    if losparse_layers(model):
        save_losparse(model, folder)
    else:
        model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    save_tensors({"logits": logits.contiguous()}, os.path.join(folder, REFERENCE_FILE))


def load_classifier(folder: str | os.PathLike):
    """Any classifier folder this app writes, in eval mode (LoSparse ones in compact form)."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"model folder {folder!r} does not exist")
    if is_losparse_dir(folder):
        base = MeanPoolDebertaClassifier(AutoConfig.from_pretrained(folder))
        return load_losparse(base, folder).eval()
    return MeanPoolDebertaClassifier.from_pretrained(folder).eval()


def reference_logits(folder: str | os.PathLike) -> torch.Tensor:
    return load_tensors(os.path.join(folder, REFERENCE_FILE))["logits"]


def disk_bytes(folder: str | os.PathLike) -> int:
    """Bytes of the weight files in ``folder`` (what shipping the model costs)."""
    return sum(
        os.path.getsize(os.path.join(folder, name))
        for name in os.listdir(folder)
        if name.endswith(".safetensors") and name != REFERENCE_FILE
    )
