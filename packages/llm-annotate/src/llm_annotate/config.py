"""Run configuration and the typed results of a run (summary, dry-run plan)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from lmlab_common import ConfigBase, require, require_choice, require_int, require_range

from .backends import BackendError, Usage
from .prompts import MODES


class CircuitOpen(BackendError):
    """A run stopped after too many consecutive items without a label (resumable)."""


@dataclass
class AnnotateConfig(ConfigBase):
    """How to annotate. Defaults follow AnnoLLM: greedy decoding for the annotation, explanations
    generated once per demonstration at temperature 0."""

    mode: str = "cot"  # zero_shot | few_shot | cot (AnnoLLM) | self_consistency
    template: str = "default"  # one of prompts.TEMPLATES
    max_tokens: int = 16  # answer budget for zero_shot / few_shot
    cot_max_tokens: int = 256  # budget for an explanation + answer (cot, self_consistency)
    explain_max_tokens: int = 128  # budget for each demonstration's explanation
    temperature: float = 0.0
    k: int = 5  # samples for self_consistency
    sc_temperature: float = 0.7  # sampling temperature for self_consistency
    # An answer without a label (empty, truncated, no label) is never cached as final: the
    # prompt is asked again up to this many more times within the run.
    parse_retries: int = 2
    # Stop the run (resumable) after this many consecutive items without a label: a server
    # failing every request, or a task whose labels the model never produces. 0 = never.
    max_consecutive_failures: int = 20
    # A finished run in which fewer items than this fraction got a label is reported as a
    # problem (the CLI exits 1): "every item failed", "every item unparseable", "mostly ...".
    min_labelled_fraction: float = 0.5
    # Ask the model to state its confidence after the answer ("(confidence: 80%)"); used as
    # the item's confidence when neither token logprobs nor votes give one.
    ask_confidence: bool = False

    def __post_init__(self) -> None:
        require_choice("mode", self.mode, MODES)
        for name in ("max_tokens", "cot_max_tokens", "explain_max_tokens", "k"):
            require_int(name, getattr(self, name), low=1)
        for name in ("parse_retries", "max_consecutive_failures"):
            require_int(name, getattr(self, name), low=0)
        for name in ("temperature", "sc_temperature"):
            require_range(name, getattr(self, name), 0.0, 2.0)
        require_range("min_labelled_fraction", self.min_labelled_fraction, 0.0, 1.0)
        require(
            self.mode != "self_consistency" or self.sc_temperature > 0.0,
            "sc_temperature",
            self.sc_temperature,
            "> 0 with mode='self_consistency'",
        )

    def sampling(self) -> dict[str, Any]:
        """Sampling parameters of an annotation call in this mode."""
        if self.mode == "self_consistency":
            return {
                "max_tokens": self.cot_max_tokens,
                "temperature": self.sc_temperature,
                "n": self.k,
            }
        budget = self.cot_max_tokens if self.mode == "cot" else self.max_tokens
        return {"max_tokens": budget, "temperature": self.temperature, "n": 1}


@dataclass
class RunSummary:
    total: int  # items in this shard
    skipped: int  # already recorded before this run (resume)
    written: int  # records written by this run
    labelled: int
    unparseable: int
    failed: int
    calls: int  # prompts sent to the backend (cache misses)
    cache_hits: int
    usage: Usage = field(default_factory=Usage)  # tokens of the calls made in this run
    seconds: float = 0.0
    asked_again: int = 0  # prompts asked again because the answer had no label
    review: int = 0  # records routed to the review file (confidence below the minimum)
    problem: str | None = None  # set when too few items got a label (see AnnotateConfig)

    @property
    def items_per_second(self) -> float:
        return self.written / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "items_per_second": self.items_per_second}


def verdict(
    labelled: int, unparseable: int, failed: int, example: dict[str, Any] | None, minimum: float
) -> str | None:
    """A loud one-line problem when fewer than ``minimum`` of the written items got a label."""
    written = labelled + unparseable + failed
    if written == 0 or labelled >= minimum * written:
        return None
    detail = ""
    if example is not None:
        detail = f"; e.g. item {example['id']}: {example.get('reason')}"
        if example.get("raw"):
            raw = example["raw"] if isinstance(example["raw"], str) else example["raw"][0]
            detail += f", raw answer {raw[:80]!r}"
    if failed == written:
        return f"every item failed ({failed} of {written}){detail}"
    hint = (
        " (check that the task's labels are what the model answers, e.g. YAML yes/no labels "
        "must stay strings, and look at the prompt with --dry-run)"
    )
    if unparseable == written:
        return f"every item was unparseable ({unparseable} of {written}){detail}{hint}"
    return (
        f"only {labelled} of {written} items got a label ({unparseable} unparseable, "
        f"{failed} failed; minimum {minimum:.0%}){detail}{hint if unparseable else ''}"
    )


@dataclass
class DryRun:
    """What a run would send, before spending anything."""

    items: int
    calls: int  # prompts not yet cached (explanations included)
    prompt_tokens: int  # estimated over uncached prompts
    max_completion_tokens: int  # upper bound from the token budgets
    example_prompt: str

    def cost(self, price_in: float, price_out: float) -> float:
        """Upper-bound cost with prices per million tokens."""
        return (self.prompt_tokens * price_in + self.max_completion_tokens * price_out) / 1e6
