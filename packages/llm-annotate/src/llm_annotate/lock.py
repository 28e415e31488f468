"""An exclusive, advisory lock on a run's output, held for the run's lifetime.

Two processes appending to one results file would both see the same items as not done and pay
for them twice. ``OutputLock`` takes ``fcntl.flock(LOCK_EX | LOCK_NB)`` on ``<out>.lock`` and
writes the holder (pid, host, start time, command) into it, so a second run refuses at once
with a message that names the holder. The kernel drops the lock when the holder dies, even by
SIGKILL, so a killed run never leaves a stale lock behind. (The lock file itself stays: deleting
a lock file others may have opened would let two runs lock two different files.)
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from typing import Any


class RunLocked(RuntimeError):
    """Another live process holds the output of this run."""


class OutputLock:
    def __init__(self, target: str | os.PathLike) -> None:
        self.target = os.fspath(target)
        self.path = f"{self.target}.lock"
        self._fd = -1

    def holder(self) -> dict[str, Any] | None:
        """Who holds (or last held) the lock, as written into the lock file."""
        try:
            with open(self.path, encoding="utf-8") as fh:
                data = json.loads(fh.read() or "null")
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def acquire(self) -> OutputLock:
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            who = self.holder() or {}
            since = who.get("started")
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since)) if since else "?"
            raise RunLocked(
                f"{self.target} is in use by another run: pid {who.get('pid', '?')} on host "
                f"{who.get('host', '?')} since {when} ({who.get('command', '?')}); wait for it "
                "to finish or stop it, or write to another output"
            ) from None
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.time(),
            "command": " ".join(os.path.basename(a) if i == 0 else a
                                for i, a in enumerate(sys.argv))[:300],
        }  # fmt: skip
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
