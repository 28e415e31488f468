"""CLI plumbing shared by every package: the runner, reproduce flags, the environment record.

``lmlab-common info`` prints the environment.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections.abc import Callable

from . import __version__

# Errors that mean "the user's input is wrong": one line, exit 2, no traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    FileNotFoundError,
    FileExistsError,
    NotADirectoryError,
    IsADirectoryError,
    PermissionError,
    ModuleNotFoundError,
)


def environment() -> dict[str, object]:
    """Versions, machine, device and whether the offline MiniLM model is installed."""
    import torch
    import transformers

    from .offline import minilm_path
    from .seed import get_device

    try:
        minilm: str | None = minilm_path()
    except (ModuleNotFoundError, FileNotFoundError):
        minilm = None
    return {
        "lmlab_common": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "device": str(get_device()),
        "threads": torch.get_num_threads(),
        "minilm_path": minilm,
    }


def add_reproduce_args(parser: argparse.ArgumentParser, seeds: int = 3) -> None:
    """The flags every ``<dist> reproduce`` takes: ``--out DIR`` and ``--seeds N``."""
    parser.add_argument(
        "--out", default="reports", metavar="DIR", help="report folder (default: reports)"
    )
    parser.add_argument(
        "--seeds",
        type=_positive_int("--seeds"),
        default=seeds,
        metavar="N",
        help=f"number of seeds, 0..N-1 (default: {seeds})",
    )


def _positive_int(flag: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(f"{flag}={text!r} is invalid; allowed: an int >= 1")
        return value

    return parse


def run(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> int:
    """Parse ``argv`` and call ``args.func(args)`` (set with ``set_defaults(func=...)``).

    Bad input (``USER_ERRORS``) prints one line ``<prog>: error: <message>`` and returns 2;
    Ctrl-C prints one line and returns 130. Returns the function's int (``None`` → 0).
    """
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        code = func(args)
    except USER_ERRORS as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted; finished work is saved", file=sys.stderr)
        return 130
    return 0 if code is None else int(code)


def _info(_args: argparse.Namespace) -> int:
    json.dump(environment(), sys.stdout, indent=2)
    print()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="lmlab-common", description="Shared helpers of lmlab; `info` prints the environment."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "info", help="print versions, device and offline model availability as JSON"
    ).set_defaults(func=_info)
    return run(parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
