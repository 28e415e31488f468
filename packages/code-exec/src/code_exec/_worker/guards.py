"""In-child Python guards: a friendly first layer with clear ``PermissionError`` messages.

Nothing relies on them: a program can get the real functions back (a fresh ``posix``, the
raw ``_io`` module, closures). The walls are the kernel's (Landlock, seccomp, namespaces,
rlimits); the guards only turn the common attempts into readable errors early.
"""

import builtins
import io
import os
import posix
import signal
import sys

# Modules the program may not import: process spawning, raw syscalls, networking.
BLOCKED_MODULES = frozenset(
    [
        "ctypes",
        "_ctypes",
        "subprocess",
        "_posixsubprocess",
        "multiprocessing",
        "_multiprocessing",
        "socket",
        "_socket",
        "ssl",
        "_ssl",
        "pty",
        "fcntl",
        "mmap",
        "resource",
        "asyncio",
        "concurrent",
        "selectors",
        "select",
        "_signal",
        "faulthandler",
        "shutil",
    ]
)
SPAWN = [
    "fork",
    "forkpty",
    "system",
    "popen",
    "execv",
    "execve",
    "execl",
    "execle",
    "execlp",
    "execlpe",
    "execvp",
    "execvpe",
    "spawnv",
    "spawnve",
    "spawnl",
    "spawnle",
    "spawnlp",
    "spawnlpe",
    "spawnvp",
    "spawnvpe",
    "posix_spawn",
    "posix_spawnp",
    "killpg",
    "setsid",
    "setpgid",
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "chroot",
    "register_at_fork",
    "pidfd_open",
]
MUTATING = {"remove": 1, "unlink": 1, "rmdir": 1, "removedirs": 1, "rename": 2, "replace": 2,
            "renames": 2, "truncate": 1, "chmod": 1, "chown": 1, "lchown": 1, "link": 2,
            "symlink": 2, "mkdir": 1, "makedirs": 1, "utime": 1, "mkfifo": 1,
            "mknod": 1}  # fmt: skip
# Signals the sandbox itself uses to end a job: a program may not handle or ignore them.
RESERVED_SIGNALS = frozenset(
    getattr(signal, name) for name in ("SIGTERM", "SIGXCPU", "SIGALRM", "SIGVTALRM", "SIGPROF")
    if hasattr(signal, name)
)  # fmt: skip


def _denied(name, why="is disabled in the code-exec sandbox"):
    def deny(*args, **kwargs):
        raise PermissionError(f"{name} {why}")

    deny.__name__ = name
    return deny


def _guard_signals():
    low_level = getattr(signal, "_signal", signal)  # signal.signal calls _signal.signal
    real_signal, real_kill = low_level.signal, posix.kill

    def safe_signal(signalnum, handler):
        default = not callable(handler) and int(handler) == int(signal.SIG_DFL)
        if int(signalnum) in RESERVED_SIGNALS and not default:
            name = signal.Signals(signalnum).name
            raise PermissionError(f"signal.signal({name}, ...) is disabled: the sandbox uses "
                                  f"{name} to end the job")  # fmt: skip
        return real_signal(signalnum, handler)

    def safe_kill(pid, sig):
        if pid != os.getpid():
            raise PermissionError("os.kill of another process is disabled in the sandbox")
        return real_kill(pid, sig)

    low_level.signal = safe_signal
    for mod in {signal, low_level}:
        for name in ("alarm", "setitimer"):  # the sandbox's own time limit applies
            if hasattr(mod, name):
                setattr(mod, name, _denied("signal." + name))
    os.kill = posix.kill = safe_kill


def install_guards(tmp):
    """Disable process spawning, signals to other processes, sockets and writes/removals
    outside ``tmp`` at the Python level."""
    root = os.path.realpath(tmp)

    def inside(path):
        if isinstance(path, int):
            return False
        full = os.path.realpath(os.fsdecode(path))
        return full == root or full.startswith(root + os.sep)

    for mod in (os, posix):
        for name in SPAWN:
            if hasattr(mod, name):
                setattr(mod, name, _denied("os." + name))

    def guard_paths(name, func, nargs):
        def guarded(*args, **kwargs):
            if kwargs.get("dir_fd") is not None or kwargs.get("src_dir_fd") is not None:
                raise PermissionError(f"os.{name} with dir_fd is disabled in the sandbox")
            for path in args[:nargs]:
                if not inside(path):
                    raise PermissionError(f"os.{name} outside the sandbox temp dir: {path!r}")
            return func(*args, **kwargs)

        return guarded

    for name, nargs in MUTATING.items():
        for mod in (os, posix):
            if hasattr(mod, name):
                setattr(mod, name, guard_paths(name, getattr(mod, name), nargs))

    real_open, real_os_open = builtins.open, os.open
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def safe_open(file, mode="r", *args, **kwargs):
        if isinstance(file, int):
            raise PermissionError("open() of a file descriptor is disabled in the sandbox")
        if any(c in str(mode) for c in "wax+") and not inside(file):
            raise PermissionError(f"writing outside the sandbox temp dir: {file!r}")
        return real_open(file, mode, *args, **kwargs)

    def safe_os_open(path, flags, *args, **kwargs):
        if kwargs.get("dir_fd") is not None:
            raise PermissionError("os.open with dir_fd is disabled in the sandbox")
        if flags & write_flags and not inside(path):
            raise PermissionError(f"writing outside the sandbox temp dir: {path!r}")
        return real_os_open(path, flags, *args, **kwargs)

    builtins.open = io.open = safe_open
    os.open = posix.open = safe_os_open

    def soft_exit(code=0):
        raise SystemExit(code)

    os._exit = posix._exit = soft_exit
    _guard_signals()
    for name in list(sys.modules):
        if name.split(".")[0] in BLOCKED_MODULES:
            del sys.modules[name]
    real_import = builtins.__import__

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and name.split(".")[0] in BLOCKED_MODULES:
            raise ImportError(f"import of {name!r} is disabled in the code-exec sandbox")
        return real_import(name, globals, locals, fromlist, level)

    class _Blocker:
        @staticmethod
        def find_spec(name, path=None, target=None):
            if name.split(".")[0] in BLOCKED_MODULES:
                raise ImportError(f"import of {name!r} is disabled in the code-exec sandbox")
            return None

    sys.meta_path.insert(0, _Blocker)
    builtins.__import__ = guarded_import
    builtins.exit = builtins.quit = soft_exit
