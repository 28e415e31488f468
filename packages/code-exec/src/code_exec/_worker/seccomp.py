"""A seccomp BPF filter for the job child (built with ``struct``, installed with ``prctl``).

Refused with ``EPERM``: running another program (``execve``, ``execveat``), new processes
(``fork``, ``vfork``, ``clone`` without ``CLONE_THREAD`` or with a namespace flag), tracing
(``ptrace``, ``process_vm_*``), signals to any process but the job itself (``kill``,
``tgkill``, ``rt_*sigqueueinfo`` need the job's own pid; ``tkill`` and ``pidfd_*`` are refused),
sockets, ``io_uring``, changes to file metadata (mode, owner, times, extended attributes:
Landlock up to ABI 7 does not cover them) and the administrative calls a traced program
never needs (mounts, namespaces, ``bpf``, keyrings, ``kexec``, modules, clocks, uid
changes, ...). ``clone3`` answers ``ENOSYS`` so the C library falls back to ``clone``, whose
flags the filter can inspect: threads keep working. A system call from another
architecture's table (x32, a foreign ``AUDIT_ARCH``) kills the process.
"""

import ctypes
import errno
import struct

from . import libc

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
CLONE_THREAD = 0x00010000
CLONE_NAMESPACES = (
    0x00020000
    | 0x02000000
    | 0x04000000
    | 0x08000000
    | 0x10000000
    | 0x20000000
    | 0x40000000
    | 0x00000080
)  # fmt: skip  NEWNS NEWCGROUP NEWUTS NEWIPC NEWUSER NEWPID NEWNET NEWTIME
X32_SYSCALL_BIT = 0x40000000

# name -> (x86_64, aarch64); None where the architecture has no such call.
SYSCALLS = {
    "fork": (57, None), "vfork": (58, None), "execve": (59, 221), "execveat": (322, 281),
    "clone": (56, 220), "clone3": (435, 435), "ptrace": (101, 117),
    "kill": (62, 129), "tkill": (200, 130), "tgkill": (234, 131),
    "rt_sigqueueinfo": (129, 138), "rt_tgsigqueueinfo": (297, 240),
    "pidfd_send_signal": (424, 424), "pidfd_open": (434, 434), "pidfd_getfd": (438, 438),
    "process_vm_readv": (310, 270), "process_vm_writev": (311, 271),
    "mount": (165, 40), "umount2": (166, 39), "pivot_root": (155, 41), "chroot": (161, 51),
    "fsopen": (430, 430), "fsconfig": (431, 431), "fsmount": (432, 432), "fspick": (433, 433),
    "move_mount": (429, 429), "open_tree": (428, 428), "mount_setattr": (442, 442),
    "setns": (308, 268), "unshare": (272, 97), "bpf": (321, 280), "perf_event_open": (298, 241),
    "userfaultfd": (323, 282), "keyctl": (250, 219), "add_key": (248, 217),
    "request_key": (249, 218), "kexec_load": (246, 104), "kexec_file_load": (320, 294),
    "init_module": (175, 105), "finit_module": (313, 273), "delete_module": (176, 106),
    "reboot": (169, 142), "swapon": (167, 224), "swapoff": (168, 225), "acct": (163, 89),
    "quotactl": (179, 60), "lookup_dcookie": (212, 18), "iopl": (172, None),
    "ioperm": (173, None), "open_by_handle_at": (304, 265), "name_to_handle_at": (303, 264),
    "fanotify_init": (300, 262), "settimeofday": (164, 170), "clock_settime": (227, 112),
    "adjtimex": (159, 171), "sethostname": (170, 161), "setdomainname": (171, 162),
    "socket": (41, 198), "io_uring_setup": (425, 425), "io_uring_enter": (426, 426),
    "io_uring_register": (427, 427), "setuid": (105, 146), "setgid": (106, 144),
    "setreuid": (113, 145), "setregid": (114, 143), "setresuid": (117, 147),
    "setresgid": (119, 149), "setgroups": (116, 159), "setfsuid": (122, 151),
    "setfsgid": (123, 152),
    # metadata of existing files: Landlock (ABI <= 7) does not cover it
    "chmod": (90, None), "fchmod": (91, 52), "fchmodat": (268, 53), "fchmodat2": (452, 452),
    "chown": (92, None), "fchown": (93, 55), "lchown": (94, None), "fchownat": (260, 54),
    "utime": (132, None), "utimes": (235, None), "utimensat": (280, 88),
    "futimesat": (261, None), "setxattr": (188, 5), "lsetxattr": (189, 6),
    "fsetxattr": (190, 7), "removexattr": (197, 14), "lremovexattr": (198, 15),
    "fremovexattr": (199, 16), "setxattrat": (463, 463), "removexattrat": (466, 466),
    "truncate": (76, 45),  # by path: Landlock covers it only from ABI 3 (ftruncate stays)
}  # fmt: skip
SPECIAL = {"clone", "clone3", "kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo"}
DENIED = sorted(set(SYSCALLS) - SPECIAL)

# BPF opcodes and return values.
LD_ABS_W, JEQ_K, JGE_K, JSET_K, RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
RET_ALLOW, RET_KILL_PROCESS, RET_ERRNO = 0x7FFF0000, 0x80000000, 0x00050000
OFF_NR, OFF_ARCH, OFF_ARG0_LOW = 0, 4, 16
SECCOMP_MODE_FILTER = 2


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def available() -> bool:
    """True when this kernel accepts seccomp filters and the architecture is known here."""
    if libc.MACHINE not in AUDIT_ARCH:
        return False
    try:
        libc.prctl(libc.PR_GET_SECCOMP)
    except OSError:
        return False
    return True


def build_filter(own_pid: int, machine: str = libc.MACHINE) -> bytes:
    """The filter program for a job whose pid (as seen from inside its namespace) is
    ``own_pid``."""
    col = {"x86_64": 0, "aarch64": 1}[machine]
    eperm, enosys = RET_ERRNO | errno.EPERM, RET_ERRNO | errno.ENOSYS
    prog = [
        _insn(LD_ABS_W, OFF_ARCH),
        _insn(JEQ_K, AUDIT_ARCH[machine], 1, 0),
        _insn(RET_K, RET_KILL_PROCESS),
        _insn(LD_ABS_W, OFF_NR),
    ]
    if machine == "x86_64":
        prog += [_insn(JGE_K, X32_SYSCALL_BIT, 0, 1), _insn(RET_K, RET_KILL_PROCESS)]
    for name in DENIED:
        nr = SYSCALLS[name][col]
        if nr is not None:
            prog += [_insn(JEQ_K, nr, 0, 1), _insn(RET_K, eperm)]
    prog += [_insn(JEQ_K, SYSCALLS["clone3"][col], 0, 1), _insn(RET_K, enosys)]
    prog += [  # clone: threads only (CLONE_THREAD set, no namespace flag)
        _insn(JEQ_K, SYSCALLS["clone"][col], 0, 6),
        _insn(LD_ABS_W, OFF_ARG0_LOW),
        _insn(JSET_K, CLONE_NAMESPACES, 0, 1),
        _insn(RET_K, eperm),
        _insn(JSET_K, CLONE_THREAD, 0, 1),
        _insn(RET_K, RET_ALLOW),
        _insn(RET_K, eperm),
    ]
    for name in ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo"):
        prog += [  # signals: only to the job's own process
            _insn(JEQ_K, SYSCALLS[name][col], 0, 4),
            _insn(LD_ABS_W, OFF_ARG0_LOW),
            _insn(JEQ_K, own_pid & 0xFFFFFFFF, 0, 1),
            _insn(RET_K, RET_ALLOW),
            _insn(RET_K, eperm),
        ]
    prog.append(_insn(RET_K, RET_ALLOW))
    return b"".join(prog)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install(own_pid: int) -> None:
    """Install the filter on this thread (the job child is single-threaded here, and every
    thread it starts later inherits it). Irreversible; raises ``OSError``."""
    program = build_filter(own_pid)
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    libc.no_new_privs()
    libc.prctl(libc.PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog))
