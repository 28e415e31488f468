"""The fill-in-the-middle (FIM) baseline: the PSM / SPM document transform and its prompt.

After Bavarian et al. (2022): with probability ``rate`` a document is cut at two uniformly
random token positions into prefix / middle / suffix and rearranged with sentinel tokens,

- PSM: ``<fim_prefix> prefix <fim_suffix> suffix <fim_middle> middle <fim_end>``
- SPM: ``<fim_prefix> <fim_suffix> suffix <fim_middle> prefix middle <fim_end>``

(SPM with probability ``spm_rate`` among transformed documents); the rest stay plain. The
model is then trained left-to-right on everything.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from lmlab_common import require_range


def fim_transform(
    ids: Sequence[int],
    fim_ids: dict[str, int],
    rng: random.Random,
    rate: float = 0.5,
    spm_rate: float = 0.5,
) -> list[int]:
    """One document (token ids) → plain, PSM or SPM ids (see the module docstring)."""
    ids = list(ids)
    if rng.random() >= rate or len(ids) < 2:
        return ids
    cut = sorted(rng.randint(0, len(ids)) for _ in range(2))
    prefix, middle, suffix = ids[: cut[0]], ids[cut[0] : cut[1]], ids[cut[1] :]
    pre, suf, mid, end = fim_ids["prefix"], fim_ids["suffix"], fim_ids["middle"], fim_ids["end"]
    if rng.random() < spm_rate:
        return [pre, suf, *suffix, mid, *prefix, *middle, end]
    return [pre, *prefix, suf, *suffix, mid, *middle, end]


def apply_fim(
    dataset, fim_ids: dict[str, int], rate: float = 0.5, spm_rate: float = 0.5, seed: int = 0
):
    """``datasets.Dataset`` with ``input_ids`` → the same rows FIM-transformed.

    Each row's cut is drawn from ``Random(seed, row index)``, so the transform is reproducible
    and a resumed run sees the same data.
    """
    require_range("rate", rate, 0.0, 1.0)
    require_range("spm_rate", spm_rate, 0.0, 1.0)

    def transform(row: dict, index: int) -> dict:
        rng = random.Random(seed * 1_000_003 + index)
        return {"input_ids": fim_transform(row["input_ids"], fim_ids, rng, rate, spm_rate)}

    return dataset.map(transform, with_indices=True)


def fim_prompt(
    prefix: Sequence[int], suffix: Sequence[int], fim_ids: dict[str, int], mode: str = "psm"
) -> list[int]:
    """The infilling prompt; the model continues with the middle and ``<fim_end>``."""
    pre, suf, mid = fim_ids["prefix"], fim_ids["suffix"], fim_ids["middle"]
    if mode == "psm":
        return [pre, *prefix, suf, *suffix, mid]
    if mode == "spm":
        return [pre, suf, *suffix, mid, *prefix]
    raise ValueError(f"mode={mode!r} is invalid; allowed: 'psm', 'spm'")
