"""The annotator: explain demonstrations once, then label items in any mode, cached and resumable.

annotator = Annotator(task, backend, AnnotateConfig(mode="cot"), cache_path="cache.sqlite")
annotator.explain()                       # AnnoLLM step 1, cached; save_explanations(...)
summary = annotator.run(items, "out.jsonl")   # step 2; rerun after a kill to resume
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from tqdm.auto import tqdm

from .backends import Backend, BackendError, Generation, Usage
from .parsing import parse_label
from .prompts import (
    MODES,
    PromptTemplate,
    build_prompt,
    explain_prompt,
    get_template,
    stop_sequences,
)
from .store import ResponseCache, ResultsWriter, atomic_write_json, cache_key
from .task import Demonstration, TaskSpec


def _progress_disabled() -> bool:
    return bool(os.environ.get("LMLAB_QUIET")) or not sys.stderr.isatty()


@dataclass
class AnnotateConfig:
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

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode={self.mode!r} is invalid; allowed: {list(MODES)}")
        for name in ("max_tokens", "cot_max_tokens", "explain_max_tokens", "k"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} is invalid; allowed: an integer >= 1")
        for name in ("temperature", "sc_temperature"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0.0 <= value <= 2.0):
                raise ValueError(f"{name}={value!r} is invalid; allowed: a float in [0, 2]")
        if self.mode == "self_consistency" and self.sc_temperature == 0.0:
            raise ValueError("sc_temperature=0.0 is invalid with self_consistency; allowed: > 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

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

    @property
    def items_per_second(self) -> float:
        return self.written / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "items_per_second": self.items_per_second}


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


class Annotator:
    def __init__(
        self,
        task: TaskSpec,
        backend: Backend,
        config: AnnotateConfig | None = None,
        cache_path: str | os.PathLike | None = None,
        demonstrations: Sequence[Demonstration] | None = None,
    ) -> None:
        self.task = task
        self.backend = backend
        self.config = config or AnnotateConfig()
        self.template: PromptTemplate = get_template(task, self.config.template)
        self.cache = ResponseCache(cache_path)
        self.demonstrations = [
            Demonstration(dict(d.inputs), d.label, d.explanation)
            for d in (task.demonstrations if demonstrations is None else demonstrations)
        ]
        self.calls = 0  # prompts sent to the backend by this annotator

    # -- cached generation ------------------------------------------------------------------
    def _key(self, prompt: str, params: dict[str, Any], stop: list[str]) -> str:
        return cache_key(self.backend.identity(), prompt, {**params, "stop": stop})

    def _generate_cached(self, prompts: list[str], params: dict, stop: list[str]):
        """Yield (index, Generation, cached, key) for ``prompts``; identical prompts go once."""
        keys = [self._key(p, params, stop) for p in prompts]
        waiting: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            if key in waiting:
                waiting[key].append(i)
                continue
            hit = self.cache.get(key)
            if hit is not None:
                yield i, hit, True, key
                # identical prompts later in the list hit the cache the same way
            else:
                waiting[key] = [i]
        order = list(waiting)
        if not order:
            return
        self.backend.check()
        send = [prompts[waiting[k][0]] for k in order]
        self.calls += len(send)
        for j, gen in self.backend.stream(send, stop=stop, **params):
            key = order[j]
            self.cache.put(key, self.backend.identity(), send[j], params, gen)
            first, *rest = waiting[key]
            yield first, gen, False, key
            for i in rest:  # duplicates of a prompt just paid for
                yield i, gen, True, key

    # -- AnnoLLM step 1 ---------------------------------------------------------------------
    def explain(self, force: bool = False, attempts: int = 3) -> list[Demonstration]:
        """Generate an explanation of the gold label for every demonstration lacking one.

        An empty or failed explanation is asked for again (up to ``attempts`` times, never
        served from the cache), then is an error: a CoT prompt needs one per demonstration.
        """
        todo = [
            i for i, d in enumerate(self.demonstrations)
            if force or not (d.explanation and d.explanation.strip())
        ]  # fmt: skip
        params = {"max_tokens": self.config.explain_max_tokens, "temperature": 0.0, "n": 1}
        stop = [self.template.separator]
        problems: dict[int, str] = {}
        for _ in range(attempts):
            if not todo:
                break
            prompts = [
                explain_prompt(self.task, self.demonstrations[i], self.template) for i in todo
            ]
            problems = {}
            for j, gen, _, key in self._generate_cached(prompts, params, stop):
                text = gen.completions[0].text.strip() if gen.ok else ""
                # drop a trailing "So the answer is: X": the CoT demo template adds its own
                parsed = parse_label(text, self.task, [self.template.cot_cue])
                if parsed.ok and parsed.explanation:
                    text = parsed.explanation
                if text:
                    self.demonstrations[todo[j]].explanation = text
                    continue
                problems[todo[j]] = gen.error or "the backend returned an empty explanation"
                self.cache.delete(key)
            todo = sorted(problems)
        if problems:
            i, reason = next(iter(sorted(problems.items())))
            raise BackendError(
                f"explaining demonstration {i} (label {self.demonstrations[i].label!r}) failed "
                f"{attempts} times: {reason}; a CoT prompt needs one explanation per demonstration"
            )
        return self.demonstrations

    def save_explanations(self, path: str | os.PathLike) -> None:
        atomic_write_json(
            path,
            {
                "task": self.task.name,
                "template": self.template.name,
                "backend": self.backend.identity(),
                "demonstrations": [
                    {
                        "inputs": d.inputs,
                        "label": d.label,
                        "explanation": d.explanation,
                        "prompt": explain_prompt(self.task, d, self.template),
                    }
                    for d in self.demonstrations
                ],
            },
        )

    def load_explanations(self, path: str | os.PathLike) -> None:
        with open(path, encoding="utf-8") as fh:
            saved = json.load(fh)["demonstrations"]
        if len(saved) != len(self.demonstrations):
            raise ValueError(
                f"explanations file {path} has {len(saved)} demonstrations; the task has "
                f"{len(self.demonstrations)}"
            )
        for i, (demo, entry) in enumerate(zip(self.demonstrations, saved, strict=True)):
            if entry["inputs"] != demo.inputs or entry["label"] != demo.label:
                raise ValueError(f"explanations file {path}: demonstration {i} does not match")
            demo.explanation = entry.get("explanation")

    # -- AnnoLLM step 2 ---------------------------------------------------------------------
    def prompt_for(self, item: dict[str, Any]) -> str:
        return build_prompt(self.task, item, self.config.mode, self.template, self.demonstrations)

    def _needs_explanations(self) -> bool:
        return self.config.mode in ("cot", "self_consistency")

    def plan(self, items: Sequence[dict[str, Any]]) -> DryRun:
        """Dry run: prompts and token estimates for uncached calls; makes no backend call."""
        prompts, budget = [], 0
        if self._needs_explanations():
            for d in self.demonstrations:
                if not (d.explanation and d.explanation.strip()):
                    prompts.append(explain_prompt(self.task, d, self.template))
                    budget += self.config.explain_max_tokens
            # placeholders so the annotation prompts can be shown and sized before step 1
            demos = [
                Demonstration(d.inputs, d.label, d.explanation or "<explanation to generate>")
                for d in self.demonstrations
            ]
        else:
            demos = self.demonstrations
        params = self.config.sampling()
        stop = stop_sequences(self.config.mode, self.template)
        example = ""
        for item in items:
            p = build_prompt(self.task, item, self.config.mode, self.template, demos)
            example = example or p
            if self.cache.contains(self._key(p, params, stop)):
                continue
            prompts.append(p)
            budget += params["max_tokens"] * params["n"]
        tokens = sum(self.backend.count_tokens(p) for p in prompts)
        return DryRun(len(items), len(prompts), tokens, budget, example)

    def _record(self, item: dict[str, Any], gen: Generation, cached: bool, key: str) -> dict:
        record: dict[str, Any] = {
            "id": item["__id"],
            "prompt_hash": key[:16],
            "mode": self.config.mode,
            "template": self.template.name,
            "model": self.backend.model,
        }
        gold = item.get(self.task.label_field)
        if gold is not None:
            record["gold"] = str(gold)
        if not gen.ok:
            record.update(status="failed", label=None, reason=gen.error, raw=None)
        else:
            cues = [self.template.cot_cue]
            parsed = [
                parse_label(c.text, self.task, cues, c.finish_reason) for c in gen.completions
            ]
            raws = [c.text for c in gen.completions]
            votes = Counter(p.label for p in parsed if p.ok)
            if self.config.mode == "self_consistency":
                record["votes"] = dict(votes)
                record["raw"] = raws
                if votes:
                    top = max(votes.values())
                    # tie: the label whose first vote came first
                    label = next(p.label for p in parsed if p.ok and votes[p.label] == top)
                    record.update(status="ok", label=label, confidence=top / len(parsed))
                else:
                    reasons = sorted({p.reason for p in parsed})
                    record.update(status="unparseable", label=None, reason="; ".join(reasons))
            else:
                p = parsed[0]
                record["raw"] = raws[0]
                if p.explanation and self._needs_explanations():
                    record["explanation"] = p.explanation
                record.update(status="ok" if p.ok else "unparseable", label=p.label)
                if not p.ok:
                    record["reason"] = p.reason
                if gen.completions[0].logprob is not None:
                    record["logprob"] = gen.completions[0].logprob
        record["usage"] = asdict(gen.usage)
        record["cached"] = cached
        record["attempts"] = 0 if cached else gen.attempts
        return record

    def run(
        self,
        items: Sequence[dict[str, Any]],
        out_path: str | os.PathLike,
        *,
        retry_failed: bool = False,
        explanations_path: str | os.PathLike | None = None,
        progress: bool | None = None,
    ) -> RunSummary:
        """Annotate ``items`` (dicts with an ``__id``, see ``data.prepare_items``) into JSONL.

        Items already in ``out_path`` are skipped, so rerunning after a kill resumes. For CoT
        modes, missing explanations are generated first (cached) and saved to
        ``explanations_path`` (default ``<out_path>.explanations.json``).
        """
        start = time.perf_counter()
        for i, item in enumerate(items):
            if "__id" not in item:
                raise ValueError(f"item {i} has no '__id'; prepare items with prepare_items()")
            self.task.check_inputs(item, f"item {i}")
        if self._needs_explanations():
            self.explain()
            self.save_explanations(explanations_path or f"{os.fspath(out_path)}.explanations.json")
        calls_before = self.calls
        hits_before = self.cache.hits
        counts = Counter()
        usage = Usage()
        with ResultsWriter(out_path, retry_failed=retry_failed) as writer:
            mine = (self.config.mode, self.template.name, self.backend.model)
            other = sorted(str(s) for s in writer.signatures - {mine})
            if other:
                raise ValueError(
                    f"{out_path} already holds records of another run {other[0]} "
                    f"(mode, template, model); this run is {mine}: use a new output file"
                )
            todo = [item for item in items if item["__id"] not in writer.done]
            prompts = [self.prompt_for(item) for item in todo]
            params = self.config.sampling()
            stop = stop_sequences(self.config.mode, self.template)
            disable = _progress_disabled() if progress is None else not progress
            with tqdm(total=len(todo), desc=f"annotate[{self.config.mode}]", disable=disable,
                      unit="item", dynamic_ncols=True) as bar:  # fmt: skip
                for i, gen, cached, key in self._generate_cached(prompts, params, stop):
                    record = self._record(todo[i], gen, cached, key)
                    writer.write(record)
                    counts[record["status"]] += 1
                    if not cached:
                        usage = usage + gen.usage
                    bar.update(1)
        return RunSummary(
            total=len(items),
            skipped=len(items) - len(todo),
            written=sum(counts.values()),
            labelled=counts["ok"],
            unparseable=counts["unparseable"],
            failed=counts["failed"],
            calls=self.calls - calls_before,
            cache_hits=self.cache.hits - hits_before,
            usage=usage,
            seconds=time.perf_counter() - start,
        )

    def close(self) -> None:
        self.cache.close()
