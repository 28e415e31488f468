"""Landlock: unprivileged, kernel-enforced filesystem, TCP and scope rules (ctypes syscalls).

The job child calls :func:`restrict` before any program code runs. After it, the process
(and anything it could start) may only read and execute what the interpreter needs (its
prefix, the standard library, shared libraries, a few files under /etc, /dev/null,
/dev/urandom, its own /proc entry), and read, write, create and remove only inside the job's
temp folder. With ABI >= 4 every TCP bind/connect is refused; with ABI >= 6 signals and
abstract unix sockets cannot reach any process outside the job's own Landlock domain (the
zygote, the caller, other jobs). Works for root and non-root callers, needs no namespaces.
"""

import ctypes
import os
import sys
import sysconfig

from . import libc

SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446  # same on every arch
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1

FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REFER = 1 << 13  # ABI 2
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6
FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
READ_EXEC = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR

# Read-only (and execute) outside the interpreter's own prefixes: shared libraries, the
# loader cache, time zones, locales. Paths that do not exist are skipped.
SYSTEM_READ_PATHS = (
    "/lib",
    "/lib64",
    "/usr/lib",
    "/usr/lib64",
    "/usr/local/lib",
    "/usr/share/zoneinfo",
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/dev/urandom",
    "/dev/random",
)


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def abi_version() -> int:
    """The kernel's Landlock ABI (0: no Landlock, or disabled at boot)."""
    try:
        return libc.syscall(SYS_CREATE_RULESET, None, 0, CREATE_RULESET_VERSION)
    except OSError:
        return 0


def handled(abi: int) -> tuple[int, int, int]:
    """(filesystem, network, scope) access bits the ruleset handles for this ABI."""
    if abi < 1:
        return 0, 0, 0
    fs = (1 << 13) - 1
    if abi >= 2:
        fs |= FS_REFER
    if abi >= 3:
        fs |= FS_TRUNCATE
    if abi >= 5:
        fs |= FS_IOCTL_DEV
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scope = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    return fs, net, scope


def features(abi: int) -> list[str]:
    """Layer names this ABI enforces (``landlock``, ``landlock_net``, ``landlock_scope``)."""
    if abi < 1:
        return []
    return (
        ["landlock"]
        + (["landlock_net"] if abi >= 4 else [])
        + (["landlock_scope"] if abi >= 6 else [])
    )


def interpreter_read_paths() -> list[str]:
    """Everything the interpreter reads at run time, most specific first."""
    paths = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        with _ignore():
            paths.append(sysconfig.get_path(key))
    paths += [p for p in sys.path if p and os.path.isabs(p)]
    paths.append(os.path.dirname(os.path.realpath(sys.executable)))
    paths += SYSTEM_READ_PATHS
    seen, out = set(), []
    for path in paths:
        real = os.path.realpath(path)
        if real not in seen and os.path.exists(real):
            seen.add(real)
            out.append(real)
    return out


class _ignore:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return exc[0] is not None and issubclass(exc[0], Exception)


class Plan:
    """Pre-opened ``O_PATH`` descriptors of the read-only trees, made once in the zygote so
    each job only creates a ruleset and adds two rules of its own (temp folder, /proc/self)."""

    def __init__(self, abi: int):
        self.abi = abi
        self.fs, self.net, self.scope = handled(abi)
        self.rules: list[tuple[int, int]] = []
        for path in interpreter_read_paths():
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            self.rules.append((fd, READ_EXEC))
        with _ignore():
            fd = os.open("/dev/null", os.O_PATH | os.O_CLOEXEC)
            self.rules.append((fd, FS_READ_FILE | FS_WRITE_FILE | FS_TRUNCATE))

    @property
    def fds(self) -> list[int]:
        return [fd for fd, _ in self.rules]


def _add_rule(ruleset: int, fd: int, rights: int, fs_handled: int) -> None:
    import stat

    if not stat.S_ISDIR(os.fstat(fd).st_mode):
        rights &= FILE_RIGHTS
    attr = _PathBeneathAttr(rights & fs_handled, fd)
    libc.syscall(SYS_ADD_RULE, ruleset, RULE_PATH_BENEATH, ctypes.byref(attr), 0)


def restrict(plan: Plan, workdir: str) -> None:
    """Confine this process (and its future threads) for good; raises ``OSError``."""
    attr = _RulesetAttr(plan.fs, plan.net, plan.scope)
    size = 8 if plan.abi < 4 else 16 if plan.abi < 6 else 24
    ruleset = libc.syscall(SYS_CREATE_RULESET, ctypes.byref(attr), size, 0)
    try:
        for fd, rights in plan.rules:
            _add_rule(ruleset, fd, rights, plan.fs)
        own = [(workdir, plan.fs), (f"/proc/{os.getpid()}", FS_READ_FILE | FS_READ_DIR)]
        for path, rights in own:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                _add_rule(ruleset, fd, rights, plan.fs)
            finally:
                os.close(fd)
        libc.no_new_privs()
        libc.syscall(SYS_RESTRICT_SELF, ruleset, 0)
    finally:
        os.close(ruleset)
