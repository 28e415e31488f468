"""Which protection layers this machine and caller can offer, detected before any worker
starts (the workers confirm what is in force when they start)."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys

from ._worker import landlock as _landlock
from ._worker import seccomp as _seccomp
from .config import SandboxConfig


@functools.lru_cache(maxsize=1)
def namespaces_available() -> bool:
    """True when ``unshare --pid --fork --net --mount-proc`` works for this user."""
    exe = shutil.which("unshare")
    if exe is None or not sys.platform.startswith("linux"):
        return False
    try:
        done = subprocess.run(
            [exe, "--pid", "--fork", "--net", "--mount-proc", "--kill-child", "true"],
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def available_layers(config: SandboxConfig | None = None) -> dict[str, bool]:
    """What this machine and caller can offer, per layer name (before any worker starts)."""
    config = config or SandboxConfig()
    abi = _landlock.abi_version()
    is_root = os.geteuid() == 0
    ns = config.isolation != "process" and namespaces_available()
    return {
        "namespaces": ns,
        "uid_drop": is_root and config.drop_privileges,
        "private_tmp": ns and is_root and config.private_tmp,
        "landlock": abi >= 1 and config.landlock,
        "landlock_net": abi >= 4 and config.landlock,
        "landlock_scope": abi >= 6 and config.landlock,
        "seccomp": _seccomp.available() and config.seccomp,
        "guards": config.in_child_guards,
    }


def missing_message(missing: list[str], in_force: list[str], details: dict) -> str:
    why = {
        "landlock": f"the kernel's Landlock ABI is {details.get('landlock_abi', 0)} "
        "(needs >= 1: Linux >= 5.13 with lsm=landlock), or SandboxConfig(landlock=False)",
        "landlock_net": "needs Landlock ABI >= 4 (Linux >= 6.7)",
        "landlock_scope": "needs Landlock ABI >= 6 (Linux >= 6.12)",
        "seccomp": "the kernel has no seccomp filters, an unknown architecture, or "
        "SandboxConfig(seccomp=False)",
        "namespaces": "`unshare --pid --net --mount` does not work for this user",
        "uid_drop": "the caller is not root, or drop_privileges=False",
        "private_tmp": "needs root and namespaces",
        "guards": "in_child_guards=False",
    }
    reasons = "; ".join(f"{name}: {why.get(name, 'unavailable')}" for name in missing)
    return (f"code-exec sandbox refuses to run: required layer(s) missing: {', '.join(missing)} "
            f"({reasons}); layers in force here: {', '.join(in_force) or 'none'}")  # fmt: skip


__all__ = ["available_layers", "missing_message", "namespaces_available"]
