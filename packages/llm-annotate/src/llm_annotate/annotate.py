"""The annotator: explain demonstrations once, then label items in any mode, cached and resumable.

annotator = Annotator(task, backend, AnnotateConfig(mode="cot"), cache_path="cache.sqlite")
annotator.explain()                       # AnnoLLM step 1, cached; save_explanations(...)
summary = annotator.run(items, "out.jsonl")   # step 2; rerun after a kill to resume
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from lmlab_common import (
    atomic_write_json,
    atomic_write_text,
    get_logger,
    progress,
    require_range,
)

from .backends import Backend, BackendError, Generation, Usage
from .confidence import needs_review
from .config import AnnotateConfig, CircuitOpen, DryRun, RunSummary, verdict
from .demos import DemoSelector
from .lock import OutputLock
from .parsing import parse_label
from .prompts import (
    PromptTemplate,
    build_prompt,
    explain_prompt,
    get_template,
    stop_sequences,
)
from .records import breaker_message, combine_pair, make_record, swap_pair
from .store import ResponseCache, ResultsWriter, cache_key, read_jsonl
from .task import Demonstration, TaskSpec


def _disable(show: bool | None) -> bool | None:
    return None if show is None else not show


class Annotator:
    def __init__(
        self,
        task: TaskSpec,
        backend: Backend,
        config: AnnotateConfig | None = None,
        cache_path: str | os.PathLike | None = None,
        demonstrations: Sequence[Demonstration] | None = None,
        selector: DemoSelector | None = None,
    ) -> None:
        """``selector`` chooses demonstrations per item from its pool (see ``demos.py``);
        without it every prompt carries ``demonstrations`` (default: the task's)."""
        self.task = task
        self.backend = backend
        self.config = config or AnnotateConfig()
        self.template: PromptTemplate = get_template(task, self.config.template)
        self.cache = ResponseCache(cache_path)
        self.demonstrations = [
            Demonstration(dict(d.inputs), d.label, d.explanation)
            for d in (
                selector.pool
                if selector is not None
                else task.demonstrations
                if demonstrations is None
                else demonstrations
            )
        ]
        self.selector = selector
        self._chosen: dict[str, list[int]] = {}  # item id -> pool indices (with a selector)
        self.calls = 0  # prompts sent to the backend by this annotator

    # -- cached generation ------------------------------------------------------------------
    def _key(self, prompt: str, params: dict[str, Any], stop: list[str]) -> str:
        return cache_key(self.backend.identity(), prompt, {**params, "stop": stop})

    def _generate_cached(self, prompts: list[str], params: dict, stop: list[str]):
        """Yield (index, Generation, cached, key) for ``prompts``; identical prompts go once.

        Nothing is cached here: the caller stores an answer with ``_store`` once it has checked
        that the answer is usable, so an unusable one is asked again, never replayed."""
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
        stream = self.backend.stream(send, stop=stop, **params)
        with contextlib.closing(stream):  # stopping early cancels what is in flight
            for j, gen in stream:
                key = order[j]
                first, *rest = waiting[key]
                yield first, gen, False, key
                for i in rest:  # duplicates of a prompt just paid for
                    yield i, gen, True, key

    def _store(self, key: str, prompt: str, params: dict, stop: list[str], gen: Generation):
        self.cache.put(key, self.backend.identity(), prompt, {**params, "stop": stop}, gen)

    # -- AnnoLLM step 1 ---------------------------------------------------------------------
    def explain(
        self, force: bool = False, attempts: int = 3, only: set[int] | None = None
    ) -> list[Demonstration]:
        """Generate an explanation of the gold label for every demonstration lacking one.

        An empty or failed explanation is asked for again (up to ``attempts`` times, never
        served from the cache), then is an error: a CoT prompt needs one per demonstration.
        """
        todo = [
            i for i, d in enumerate(self.demonstrations)
            if (only is None or i in only)
            and (force or not (d.explanation and d.explanation.strip()))
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
            for j, gen, cached, key in self._generate_cached(prompts, params, stop):
                text = gen.completions[0].text.strip() if gen.ok else ""
                # drop a trailing "So the answer is: X": the CoT demo template adds its own
                parsed = parse_label(text, self.task, [self.template.cot_cue])
                if parsed.ok and parsed.explanation:
                    text = parsed.explanation
                if text:
                    self.demonstrations[todo[j]].explanation = text
                    if not cached:
                        self._store(key, prompts[j], params, stop, gen)
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
            ensure_ascii=False,
            data={
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
    def choose(self, items: Sequence[dict[str, Any]]) -> set[int]:
        """Pick demonstrations for ``items`` (with a selector); return the pool indices used."""
        if self.selector is None or self.config.mode == "zero_shot":
            return set(range(len(self.demonstrations)))
        new = [item for item in items if item["__id"] not in self._chosen]
        for item, picks in zip(new, self.selector.select(new), strict=True):
            self._chosen[item["__id"]] = picks
        return {j for item in items for j in self._chosen[item["__id"]]}

    def demonstrations_for(self, item: dict[str, Any]) -> list[Demonstration]:
        if self.selector is None:
            return self.demonstrations
        if item["__id"] not in self._chosen:
            self.choose([item])
        return [self.demonstrations[j] for j in self._chosen[item["__id"]]]

    def prompt_for(self, item: dict[str, Any], placeholder: bool = False) -> str:
        demos = self.demonstrations_for(item) if self.config.mode != "zero_shot" else []
        if placeholder:  # dry run: show and size the prompt before explanations exist
            text = "<explanation to generate>"
            demos = [Demonstration(d.inputs, d.label, d.explanation or text) for d in demos]
        ask = self.config.ask_confidence
        return build_prompt(self.task, item, self.config.mode, self.template, demos, ask)

    def _needs_explanations(self) -> bool:
        return self.config.mode in ("cot", "self_consistency")

    def plan(self, items: Sequence[dict[str, Any]]) -> DryRun:
        """Dry run: prompts and token estimates for uncached calls; makes no backend call."""
        prompts, budget = [], 0
        used = self.choose(items)
        if self._needs_explanations():
            for i, d in enumerate(self.demonstrations):
                if i in used and not (d.explanation and d.explanation.strip()):
                    prompts.append(explain_prompt(self.task, d, self.template))
                    budget += self.config.explain_max_tokens
        params = self.config.sampling()
        stop = stop_sequences(self.config.mode, self.template)
        example = ""
        for item in items:
            p = self.prompt_for(item, placeholder=self._needs_explanations())
            example = example or p
            if self.cache.contains(self._key(p, params, stop)):
                continue
            prompts.append(p)
            budget += params["max_tokens"] * params["n"]
        tokens = sum(self.backend.count_tokens(p) for p in prompts)
        return DryRun(len(items), len(prompts), tokens, budget, example)

    def run(
        self,
        items: Sequence[dict[str, Any]],
        out_path: str | os.PathLike,
        *,
        retry_failed: bool = False,
        explanations_path: str | os.PathLike | None = None,
        progress: bool | None = None,
        min_confidence: float | None = None,
        review_path: str | os.PathLike | None = None,
    ) -> RunSummary:
        """Annotate ``items`` (dicts with an ``__id``, see ``data.prepare_items``) into JSONL.

        Items already in ``out_path`` are skipped, so rerunning after a kill resumes. For CoT
        modes, missing explanations are generated first (cached) and saved to
        ``explanations_path`` (default ``<out_path>.explanations.json``). The output is locked
        for the run's lifetime (``<out_path>.lock``): a second run on it raises ``RunLocked``.

        An answer without a label is asked again up to ``config.parse_retries`` times and never
        cached; ``config.max_consecutive_failures`` items in a row without a label stop the run
        with ``CircuitOpen`` (rerun to resume). ``summary.problem`` says when too few items got
        a label. ``retry_failed=True`` runs items recorded as failed or unparseable again.

        With ``min_confidence``, every answered record of the output whose confidence is below
        it (or unknown, or without a label) is also written to ``review_path`` (default
        ``<out_path>.review.jsonl``) for a human to check; the file is rebuilt from the whole
        output at the end of each run, so it stays right across resumes.
        """
        if min_confidence is not None:
            require_range("min_confidence", min_confidence, 0.0, 1.0)
        start = time.perf_counter()
        if not items:
            raise ValueError("items is empty; allowed: at least one item (nothing was sent)")
        for i, item in enumerate(items):
            if "__id" not in item:
                raise ValueError(f"item {i} has no '__id'; prepare items with prepare_items()")
            self.task.check_inputs(item, f"item {i}")
        with OutputLock(out_path), ResultsWriter(out_path, retry_failed=retry_failed) as writer:
            mine = (self.config.mode, self.template.name, self.backend.model)
            other = sorted(str(s) for s in writer.signatures - {mine})
            if other:
                raise ValueError(
                    f"{out_path} already holds records of another run {other[0]} "
                    f"(mode, template, model); this run is {mine}: use a new output file"
                )
            todo = [item for item in items if item["__id"] not in writer.done]
            used = self.choose(todo)
            if todo and self._needs_explanations():
                self.explain(only=used)
                path = explanations_path or f"{os.fspath(out_path)}.explanations.json"
                self.save_explanations(path)
            calls_before, hits_before = self.calls, self.cache.hits  # annotation calls only
            summary = self._annotate(todo, writer, progress)
            writer.close()
            if min_confidence is not None:
                review = [r for r in read_jsonl(out_path) if needs_review(r, min_confidence)]
                path = review_path or f"{os.fspath(out_path)}.review.jsonl"
                atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n"
                                                for r in review))  # fmt: skip
                summary.review = len(review)
        summary.total, summary.skipped = len(items), len(items) - len(todo)
        summary.calls = self.calls - calls_before
        summary.cache_hits = self.cache.hits - hits_before
        summary.seconds = time.perf_counter() - start
        if summary.problem:
            get_logger("llm_annotate").warning("%s: %s", out_path, summary.problem)
        return summary

    def _annotate(self, todo: list[dict], writer: ResultsWriter, show: bool | None) -> RunSummary:
        """Ask, parse, ask again when there is no label, write; trip the circuit breaker."""
        # one prompt per item; two for a pairwise task (the pair as given, then swapped)
        pairwise = self.task.kind == "pairwise"
        units = [(i, h) for i in range(len(todo)) for h in ((0, 1) if pairwise else (0,))]
        unit_items = [todo[i] if h == 0 else swap_pair(self.task, todo[i]) for i, h in units]
        prompts = [self.prompt_for(item) for item in unit_items]
        halves: dict[int, dict[int, dict]] = {}
        params = self.config.sampling()
        stop = stop_sequences(self.config.mode, self.template)
        counts: Counter[str] = Counter()
        usage = Usage()
        example: dict | None = None  # first record without a label, for the problem message
        streak: list[dict] = []  # failed records of the current run of items without a label
        limit = self.config.max_consecutive_failures
        asked_again = 0

        def finish(record: dict) -> None:
            nonlocal example
            if record["status"] == "ok":
                for held in streak:  # real failures after all: record them
                    writer.write(held)
                streak.clear()
            elif example is None:
                example = record
            if record["status"] == "failed":
                streak.append(record)  # held back: dropped if the breaker trips (resumable)
            else:
                writer.write(record)
            counts[record["status"]] += 1
            bar.update(1)

        def settle(unit: int, record: dict) -> None:
            if not pairwise:
                return finish(record)
            item, half = units[unit]
            got = halves.setdefault(item, {})
            got[half] = record
            if len(got) == 2:
                finish(combine_pair(got[0], got[1]))

        without_label = 0
        pending = list(range(len(units)))
        desc = f"annotate[{self.config.mode}]"
        with progress(total=len(todo), desc=desc, unit="item", disable=_disable(show)) as bar:
            for round_ in range(self.config.parse_retries + 1):
                if not pending:
                    break
                last = round_ == self.config.parse_retries
                again = []
                batch = [prompts[j] for j in pending]
                for i, gen, cached, key in self._generate_cached(batch, params, stop):
                    index = pending[i]
                    record = self._record(unit_items[index], gen, cached, key)
                    if not cached:
                        usage = usage + gen.usage
                    status = record["status"]
                    if status == "ok":
                        without_label = 0
                        if not cached:
                            self._store(key, batch[i], params, stop, gen)
                    elif round_ == 0:  # count items, not asks: a re-ask is the same item
                        without_label += 1
                    if status == "unparseable":
                        if cached:  # written by an older version: never final
                            self.cache.delete(key)
                        if not last:
                            again.append(index)
                    if status != "unparseable" or last:
                        settle(index, record)
                    if limit and without_label >= limit:
                        raise CircuitOpen(breaker_message(self, record, writer))
                pending = sorted(set(again))
                asked_again += len(pending)
            for held in streak:
                writer.write(held)
        labelled, unparseable, failed = counts["ok"], counts["unparseable"], counts["failed"]
        return RunSummary(
            total=len(todo),
            skipped=0,
            written=labelled + unparseable + failed,
            labelled=labelled,
            unparseable=unparseable,
            failed=failed,
            calls=0,
            cache_hits=0,
            usage=usage,
            asked_again=asked_again,
            problem=verdict(
                labelled, unparseable, failed, example, self.config.min_labelled_fraction
            ),
        )

    def _record(self, item: dict[str, Any], gen: Generation, cached: bool, key: str) -> dict:
        return make_record(item, gen, cached, key, self)

    def close(self) -> None:
        self.cache.close()
