"""``lmlab-common``: report the environment lmlab runs in."""

from __future__ import annotations

import argparse
import json
import platform
import sys

from . import __version__


def environment() -> dict[str, object]:
    """Versions, device and whether the offline MiniLM model is installed."""
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
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "device": str(get_device()),
        "threads": torch.get_num_threads(),
        "minilm_path": minilm,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="lmlab-common", description="Shared helpers of lmlab; `info` prints the environment."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="print versions, device and offline model availability as JSON")
    args = parser.parse_args(argv)
    if args.command == "info":
        json.dump(environment(), sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
