"""Configs: sandbox limits, mutation settings, trace-prediction training arguments."""

from __future__ import annotations

from dataclasses import dataclass, field

from lmlab_common import ConfigBase, require, require_choice, require_range
from transformers import Seq2SeqTrainingArguments

ISOLATIONS = ("auto", "namespace", "process")
# Layers a caller may insist on with ``require=`` (see the README's security section).
LAYERS = ("namespaces", "uid_drop", "private_tmp", "landlock", "landlock_net", "landlock_scope",
          "seccomp", "guards")  # fmt: skip


def _positive_int(name: str, value: object) -> None:
    require(isinstance(value, int) and not isinstance(value, bool) and value > 0, name, value,
            "an int > 0")  # fmt: skip


@dataclass
class SandboxConfig(ConfigBase):
    """Limits for one untrusted program. Defaults suit short generated programs."""

    timeout_s: float = 2.0  # wall-clock limit; CPU limit is ceil(timeout_s) + 1 s
    max_steps: int = 1000  # executed-line events before status "step_limit"
    max_memory_mb: int = 256  # address space (RLIMIT_AS) of the job process
    max_output_bytes: int = 64_000  # printed bytes before status "output_limit"
    max_file_bytes: int = 1_000_000  # RLIMIT_FSIZE: largest file the program may write
    max_open_files: int = 32  # RLIMIT_NOFILE
    max_processes: int = 32  # RLIMIT_NPROC (binds only after dropping root, see drop_privileges)
    isolation: str = "auto"  # "namespace": unshare pid+net+mount; "process"; "auto": best
    drop_privileges: bool = True  # when root: run the job as uid/gid `unprivileged_uid`
    unprivileged_uid: int = 65534  # "nobody"
    in_child_guards: bool = True  # False only to test that the outer layers hold on their own
    landlock: bool = True  # Landlock file/TCP/scope rules when the kernel offers them
    seccomp: bool = True  # seccomp filter: no exec, no new processes, no ptrace, ...
    private_tmp: bool = True  # as root in namespaces: private tmpfs over /tmp, /var/tmp, /dev/shm
    tmpfs_mb: int = 64  # size of each private tmpfs
    require: tuple[str, ...] = ()  # layers that must be in force, else Sandbox refuses to run

    def __post_init__(self) -> None:
        require_range("timeout_s", self.timeout_s, 0, 600, low_inclusive=False)
        for name in ("max_steps", "max_memory_mb", "max_output_bytes", "max_file_bytes",
                     "max_open_files", "max_processes"):  # fmt: skip
            _positive_int(name, getattr(self, name))
        require(self.max_memory_mb >= 64, "max_memory_mb", self.max_memory_mb,
                "an int >= 64 (the interpreter itself needs ~40 MB of address space)")  # fmt: skip
        require(self.max_open_files >= 8, "max_open_files", self.max_open_files, "an int >= 8")
        require_choice("isolation", self.isolation, ISOLATIONS)
        require(isinstance(self.drop_privileges, bool), "drop_privileges", self.drop_privileges,
                "a bool")  # fmt: skip
        _positive_int("unprivileged_uid", self.unprivileged_uid)
        for name in ("in_child_guards", "landlock", "seccomp", "private_tmp"):
            require(isinstance(getattr(self, name), bool), name, getattr(self, name), "a bool")
        _positive_int("tmpfs_mb", self.tmpfs_mb)
        if isinstance(self.require, str):
            self.require = (self.require,)
        self.require = tuple(self.require)
        for layer in self.require:
            require_choice("require", layer, LAYERS)

    def job_limits(self) -> dict:
        keys = ("timeout_s", "max_steps", "max_memory_mb", "max_output_bytes", "max_file_bytes",
                "max_open_files", "max_processes")  # fmt: skip
        return {k: getattr(self, k) for k in keys} | {"guards": self.in_child_guards}


# The mutation operators (code_exec.mutation implements one function per name).
MUTATION_OPERATORS = ("CRP", "AOR", "ASR", "ROR", "LCR", "COI", "BCR", "LBR", "SVR", "SDL", "SDU")


@dataclass
class MutationConfig(ConfigBase):
    """Tree-sitter mutation augmentation (operators after the paper's mutation-testing list)."""

    operators: tuple[str, ...] = MUTATION_OPERATORS
    mutants_per_program: int = 3  # kept mutants per original (k <= 3 in the research plan)
    max_candidates: int = 30  # candidate mutants tried per program before giving up
    seed: int = 0

    def __post_init__(self) -> None:
        self.operators = tuple(self.operators)
        require(len(self.operators) > 0, "operators", self.operators, "a non-empty list")
        for op in self.operators:
            require_choice("operators", op, sorted(MUTATION_OPERATORS))
        _positive_int("mutants_per_program", self.mutants_per_program)
        _positive_int("max_candidates", self.max_candidates)


STAGE3_MIX = (0.34, 0.33, 0.33)  # official stage 3: p over (mutated, tutorial, singleline)


@dataclass
class CodeExecTrainingArguments(Seq2SeqTrainingArguments):
    """``Seq2SeqTrainingArguments`` plus the CodeExecutor loss weights and curriculum."""

    value_token_weight: float = field(
        default=10.0, metadata={"help": "loss weight of value tokens (official: 10)"}
    )
    structure_token_weight: float = field(
        default=1.0,
        metadata={"help": "weight of <state> </state> <dictsep> ':' (official: 1)"},
    )
    curriculum: str = field(
        default="curriculum",
        metadata={
            "help": "'curriculum' (singleline -> +tutorial -> official stage-3 mix) "
            "or 'mixed' (stage-3 mix from step 0)"
        },  # fmt: skip
    )
    stage_fractions: tuple[float, float, float] = field(
        default=(0.25, 0.25, 0.5),
        metadata={
            "help": "share of max_steps per stage (stages 1-2 are not in the official "
            "code; these are our choice)"
        },  # fmt: skip
    )
    stage3_mix: tuple[float, float, float] = field(
        default=STAGE3_MIX, metadata={"help": "p(mutated, tutorial, singleline), official"}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        require_range("value_token_weight", self.value_token_weight, 0, None, low_inclusive=False)
        require_range("structure_token_weight", self.structure_token_weight, 0, None,
                      low_inclusive=False)  # fmt: skip
        require_choice("curriculum", self.curriculum, ("curriculum", "mixed", "none"))
        for name in ("stage_fractions", "stage3_mix"):
            value = tuple(getattr(self, name))
            ok = len(value) == 3 and all(v >= 0 for v in value) and abs(sum(value) - 1) < 1e-6
            require(ok, name, value, "three non-negative numbers summing to 1")
            setattr(self, name, value)


__all__ = [
    "LAYERS",
    "MUTATION_OPERATORS",
    "CodeExecTrainingArguments",
    "MutationConfig",
    "SandboxConfig",
    "STAGE3_MIX",
]
