"""Private tmpfs mounts over the world-writable folders, inside the worker's own mount
namespace (only when the worker runs as root in namespaces made by ``unshare``)."""

import os

from . import libc

MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x2, 0x4, 0x8
WORLD_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm")


def private_tmp(size_mb: int) -> list[str]:
    """Mount a fresh, size-bounded tmpfs over each world-writable folder that exists; return
    the folders covered. Raises ``OSError`` if a mount fails."""
    covered = []
    for path in WORLD_WRITABLE:
        if os.path.isdir(path) and not os.path.islink(path):
            data = f"size={size_mb}m,nr_inodes=16384,mode=1777"
            libc.mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, data)
            covered.append(path)
    return covered
