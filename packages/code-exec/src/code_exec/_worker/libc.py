"""The ctypes bridge to ``syscall(2)`` and ``prctl(2)`` (no third-party dependency)."""

import ctypes
import os
import platform

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.restype = ctypes.c_int

PR_SET_PDEATHSIG = 1
PR_GET_SECCOMP = 21
PR_SET_SECCOMP = 22
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

MACHINE = {"amd64": "x86_64", "arm64": "aarch64"}.get(
    platform.machine().lower(), platform.machine().lower()
)


def _arg(value):
    if value is None:
        return ctypes.c_void_p(None)
    if isinstance(value, int):
        return ctypes.c_ulong(value & (2**64 - 1))
    return value  # a ctypes pointer / byref


def syscall(number: int, *args) -> int:
    """``syscall(number, *args)``; raises ``OSError`` with the errno on failure."""
    ctypes.set_errno(0)
    result = _libc.syscall(ctypes.c_long(number), *[_arg(a) for a in args])
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def prctl(option: int, *args) -> int:
    """``prctl(option, *args)`` (unused arguments are 0); raises ``OSError`` on failure."""
    padded = [_arg(a) for a in args] + [ctypes.c_ulong(0)] * (4 - len(args))
    result = _libc.prctl(ctypes.c_int(option), *padded)
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def no_new_privs() -> None:
    """Set ``no_new_privs`` (needed by Landlock and seccomp for a caller without CAP_SYS_ADMIN;
    also stops any setuid binary from gaining privileges)."""
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def mount(source: str, target: str, fstype: str, flags: int, data: str) -> None:
    result = _libc.mount(source.encode(), target.encode(), fstype.encode(),
                         ctypes.c_ulong(flags), data.encode())  # fmt: skip
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")
