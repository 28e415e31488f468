"""Logging and progress bars that stay quiet off a terminal."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable
from typing import Any, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def get_logger(name: str, level: int | str | None = None) -> logging.Logger:
    """A logger under ``name`` with one stderr handler; level from ``LMLAB_LOG_LEVEL`` or INFO."""
    logger = logging.getLogger(name)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(_FORMAT, "%H:%M:%S"))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(level or os.environ.get("LMLAB_LOG_LEVEL", "INFO"))
    return logger


def progress_enabled(disable: bool | None = None) -> bool:
    """Whether a bar should show: not if asked, not if ``LMLAB_QUIET`` is set, not off a TTY."""
    if disable is not None:
        return not disable
    if os.environ.get("LMLAB_QUIET"):
        return False
    return sys.stderr.isatty()


def progress(
    iterable: Iterable[T] | None = None,
    desc: str | None = None,
    total: int | None = None,
    disable: bool | None = None,
    **kwargs: Any,
) -> tqdm:
    """``tqdm`` that is silent when not on a terminal, when ``LMLAB_QUIET`` is set or asked."""
    return tqdm(
        iterable,
        desc=desc,
        total=total,
        disable=not progress_enabled(disable),
        dynamic_ncols=True,
        **kwargs,
    )
