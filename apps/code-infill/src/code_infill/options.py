"""Settings of one code-infill run, validated at the boundary (no heavy imports)."""

from __future__ import annotations

import dataclasses

from lmlab_common import ConfigBase, require, require_choice, require_int, require_range

METHODS = ("l2r", "fim", "mim")  # bidir-lm's three training methods / infilling modes
LABELS = {"l2r": "L2R", "fim": "FIM", "mim": "MIM"}
TIERS = ("tutorial", "mutated", "mutated_small")  # code-exec generator tiers with >= 3 lines


def parse_methods(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``"l2r,fim,mim"`` or a list → a tuple of known method names (error names the bad one)."""
    items = value.split(",") if isinstance(value, str) else list(value)
    items = [str(m).strip() for m in items if str(m).strip()]
    require(len(items) > 0, "methods", value, f"a comma-separated subset of {', '.join(METHODS)}")
    for name in items:
        require_choice("methods", name, METHODS)
    require(len(set(items)) == len(items), "methods", value, "each method at most once")
    return tuple(items)


@dataclasses.dataclass
class InfillOptions(ConfigBase):
    """What to build, train and measure. Defaults are the ~15 minute run on 2 cores."""

    config_name = "options.json"

    out_dir: str = "out/code-infill"
    methods: tuple[str, ...] = METHODS
    # Data: original programs per tier for training (generator seed ``seed``) and held out
    # (generator seed ``seed + 1``); mutated tiers add up to ``mutants_per_program`` mutants.
    train_programs: int = 1200
    eval_programs: int = 200
    mutants_per_program: int = 2
    max_span_lines: int = 3  # the removed middle is 1..max_span_lines whole lines
    # Model: a tiny GPT-2, the same size, initialisation and token budget for every method.
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 2
    vocab_size: int = 400  # byte-level BPE trained on the training programs
    steps: int = 400
    batch_size: int = 32
    learning_rate: float = 3e-3
    fim_rate: float = 0.5  # share of FIM-transformed documents (PSM/SPM 50/50), as bidir-lm
    beta: float = 1.0  # MIM agreement weight (bidir-lm default)
    # Infilling and judging.
    max_new_tokens: int = 40
    # Shortest fill (bidir-lm's ``min_new_tokens``, the same for every method): every task
    # removes at least one whole line, so an empty fill is always wrong; 0 allows it.
    min_new_tokens: int = 1
    infill_batch_size: int = 50
    timeout_s: float = 2.0  # sandbox wall-clock limit per filled program
    num_examples: int = 2  # side-by-side examples per method in the report
    seed: int = 0
    overwrite: bool = False

    def __post_init__(self) -> None:
        self.methods = parse_methods(self.methods)
        for name, low in (
            ("train_programs", 10),
            ("eval_programs", 2),
            ("mutants_per_program", 1),
            ("max_span_lines", 1),
            ("hidden_size", 8),
            ("num_layers", 1),
            ("num_heads", 1),
            ("vocab_size", 300),
            ("steps", 1),
            ("batch_size", 1),
            ("max_new_tokens", 1),
            ("min_new_tokens", 0),
            ("infill_batch_size", 1),
            ("num_examples", 0),
            ("seed", 0),
        ):
            require_int(name, getattr(self, name), low)
        require(
            self.hidden_size % self.num_heads == 0,
            "hidden_size",
            self.hidden_size,
            f"a multiple of num_heads={self.num_heads}",
        )
        require(
            self.min_new_tokens <= self.max_new_tokens,
            "min_new_tokens",
            self.min_new_tokens,
            f"at most max_new_tokens={self.max_new_tokens}",
        )
        require_range("learning_rate", self.learning_rate, 0.0, 1.0, low_inclusive=False)
        require_range("fim_rate", self.fim_rate, 0.0, 1.0)
        require_range("beta", self.beta, 0.0, 100.0)
        require_range("timeout_s", self.timeout_s, 0.0, 60.0, low_inclusive=False)

    def run_fields(self) -> dict:
        """The fields that define the results (a resumed run must match them)."""
        data = self.to_dict()
        for name in ("out_dir", "overwrite", "num_examples"):
            data.pop(name, None)
        data["methods"] = list(self.methods)
        return data


def quick_options(**changes) -> InfillOptions:
    """The CI run: about 2 minutes on an idle 2-core machine."""
    fields = dict(
        train_programs=120,
        eval_programs=32,
        mutants_per_program=1,
        hidden_size=64,
        num_layers=2,
        num_heads=2,
        steps=100,
        batch_size=16,
        learning_rate=5e-3,
        max_new_tokens=32,
        infill_batch_size=32,
    )
    fields.update(changes)
    return InfillOptions(**fields)
