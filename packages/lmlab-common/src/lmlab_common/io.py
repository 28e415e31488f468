"""Atomic file writes and safetensors helpers: a killed job never leaves a half-written file.

torch is imported only by the safetensors helpers, so JSON/text writers stay light.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import tempfile
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


@functools.lru_cache(maxsize=1)
def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _mkstemp_like_open(directory: str, suffix: str) -> tuple[int, str]:
    """``mkstemp`` in ``directory``, with the mode a plain ``open`` would give (0666 & ~umask)."""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=directory)
    os.fchmod(fd, 0o666 & ~_umask())
    return fd, tmp


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", **open_kwargs: Any) -> Iterator[IO]:
    """Open a temp file beside ``path``; on success fsync it and ``os.replace`` it into place.

    On an exception the temp file is removed and ``path`` is untouched.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode={mode!r} is invalid; allowed: 'w' or 'wb'")
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    if mode == "w":
        open_kwargs.setdefault("encoding", "utf-8")
    fd, tmp = _mkstemp_like_open(directory, "-" + os.path.basename(path))
    try:
        with os.fdopen(fd, mode, **open_kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_write(path, "w") as fh:
        fh.write(text)


def atomic_write_json(
    path: str | os.PathLike, data: Any, indent: int = 2, ensure_ascii: bool = True
) -> None:
    """JSON (sorted keys) written atomically; ``ensure_ascii=False`` keeps non-ASCII text."""
    text = json.dumps(data, indent=indent, sort_keys=True, ensure_ascii=ensure_ascii)
    atomic_write_text(path, text + "\n")


def save_tensors(
    tensors: dict[str, torch.Tensor],
    path: str | os.PathLike,
    metadata: dict[str, str] | None = None,
) -> None:
    """Save a flat dict of tensors as safetensors, atomically (tensors made contiguous)."""
    import torch
    from safetensors.torch import save_file

    bad = [k for k, v in tensors.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ValueError(f"tensors[{bad[0]!r}] is not a torch.Tensor; allowed: tensors only")
    flat = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = _mkstemp_like_open(directory, ".safetensors")
    os.close(fd)
    try:
        save_file(flat, tmp, metadata=metadata)
        os.chmod(tmp, 0o666 & ~_umask())  # save_file may recreate the file with mode 0600
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def load_tensors(path: str | os.PathLike, device: str = "cpu") -> dict[str, torch.Tensor]:
    """Load a safetensors file into a dict of tensors on ``device``."""
    from safetensors.torch import load_file

    if not os.path.isfile(path):
        raise FileNotFoundError(f"no safetensors file at {os.fspath(path)!r}")
    return load_file(os.fspath(path), device=device)
