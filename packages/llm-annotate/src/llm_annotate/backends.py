"""The backend interface, its result types, and the deterministic ``ScriptedBackend``.

Every backend turns prompts into completions with one call::

    backend.generate(prompts, max_tokens=256, temperature=0.0, stop=None, n=1)
    -> list[Generation]            # one per prompt, same order

A ``Generation`` holds ``n`` ``Completion`` s (text, finish reason, summed token logprob when
the backend exposes it) and the token ``Usage`` of the request. A prompt that failed for good
(retries exhausted, bad response) gives a ``Generation`` with ``error`` set instead of raising,
so one bad item never sinks a batch of thousands. ``stream`` yields ``(index, Generation)`` as
results arrive, which the annotator uses for continuous concurrency and a live progress bar.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


class BackendError(RuntimeError):
    """A backend could not be used at all (e.g. an unreachable endpoint)."""


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )


@dataclass
class Completion:
    text: str
    finish_reason: str | None = None  # "stop", "length", ... as the backend reports it
    logprob: float | None = None  # sum of the generated tokens' log-probabilities
    # (token text, log-probability) of each generated token, when the backend returns them
    tokens: list[tuple[str, float]] | None = None


@dataclass
class Generation:
    completions: list[Completion] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    error: str | None = None  # set when the prompt failed for good; completions is then empty
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Generation:
        return cls(
            completions=[Completion(**c) for c in data.get("completions", [])],
            usage=Usage(**data.get("usage", {})),
            error=data.get("error"),
            attempts=int(data.get("attempts", 1)),
        )


def apply_stop(text: str, stop: Sequence[str] | None) -> tuple[str, bool]:
    """Cut ``text`` at the first stop string; return (text, whether it was cut)."""
    cut = len(text)
    for s in stop or ():
        pos = text.find(s)
        if s and pos != -1:
            cut = min(cut, pos)
    return text[:cut], cut < len(text)


def validate_sampling(max_tokens: int, temperature: float, n: int) -> None:
    if not isinstance(max_tokens, int) or max_tokens < 1:
        raise ValueError(f"max_tokens={max_tokens!r} is invalid; allowed: an integer >= 1")
    if not temperature >= 0.0:
        raise ValueError(f"temperature={temperature!r} is invalid; allowed: a float >= 0")
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n={n!r} is invalid; allowed: an integer >= 1")


class Backend:
    """Base class. Subclasses implement ``stream`` (or ``_generate_batch``)."""

    kind: str = "base"
    model: str = ""
    supports_logprobs: bool = False

    def identity(self) -> dict[str, Any]:
        """What the cache key needs to tell this backend's answers apart from another's."""
        return {"backend": self.kind, "model": self.model}

    def check(self) -> None:
        """Raise ``BackendError`` if the backend cannot be reached; cheap, called before a run."""

    def count_tokens(self, text: str) -> int:
        """Token estimate for dry runs: about 4 characters per token unless a tokenizer is known."""
        return max(1, (len(text) + 3) // 4)

    def generate(
        self,
        prompts: Sequence[str],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
        n: int = 1,
    ) -> list[Generation]:
        results: list[Generation | None] = [None] * len(prompts)
        for index, generation in self.stream(
            prompts, max_tokens=max_tokens, temperature=temperature, stop=stop, n=n
        ):
            results[index] = generation
        return [r if r is not None else Generation(error="no result") for r in results]

    def stream(
        self,
        prompts: Sequence[str],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
        n: int = 1,
    ) -> Iterator[tuple[int, Generation]]:
        raise NotImplementedError

    def close(self) -> None:
        """Release resources (threads, models)."""


Responder = Callable[[str], "str | Sequence[str]"]


class ScriptedBackend(Backend):
    """Deterministic answers for tests, examples and dry plumbing checks.

    ``script`` is one of:
    - a callable ``prompt -> str`` (or ``prompt -> list[str]`` giving the ``n`` samples);
    - a list of ``(regex, answer)`` rules, the first whose regex is found in the prompt wins;
    - a dict from the exact prompt to the answer.
    ``default`` answers prompts no rule matches (``None``: such a prompt is a failed generation).
    Samples beyond the ones given cycle through them; a sample may be a ``Completion`` (e.g. with
    token log-probabilities), used as is. ``calls`` counts prompts answered.
    """

    kind = "scripted"

    def __init__(
        self,
        script: Responder | Sequence[tuple[str, str]] | dict[str, str],
        default: str | None = None,
        model: str = "scripted",
    ) -> None:
        if callable(script):
            self._respond = script
        elif isinstance(script, dict):
            table = dict(script)
            self._respond = lambda p: table.get(p, default)
        else:
            rules = [(re.compile(pattern), answer) for pattern, answer in script]

            def respond(prompt: str) -> str | None:
                for pattern, answer in rules:
                    if pattern.search(prompt):
                        return answer
                return default

            self._respond = respond
        self.model = model
        self.calls = 0
        self.prompts: list[str] = []
        self._lock = threading.Lock()

    def stream(self, prompts, *, max_tokens=256, temperature=0.0, stop=None, n=1):
        validate_sampling(max_tokens, temperature, n)
        for index, prompt in enumerate(prompts):
            with self._lock:
                self.calls += 1
                self.prompts.append(prompt)
            answer = self._respond(prompt)
            if answer is None:
                yield index, Generation(error="scripted backend has no answer for this prompt")
                continue
            samples = [answer] if isinstance(answer, str | Completion) else list(answer)
            completions = []
            for i in range(n):
                sample = samples[i % len(samples)]
                if isinstance(sample, Completion):  # scripted text with token logprobs
                    completions.append(sample)
                    continue
                text, cut = apply_stop(sample, stop)
                completions.append(Completion(text=text, finish_reason="stop"))
            usage = Usage(
                self.count_tokens(prompt), sum(self.count_tokens(c.text) for c in completions)
            )
            yield index, Generation(completions=completions, usage=usage)
