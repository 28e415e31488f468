"""Infilling: meet in the middle (MIM), and the left-to-right and FIM baselines, batched.

Meet in the middle, per step (one batched forward of both sides, KV-cached): the forward side
appends its greedy next token after ``prefix + F``, the backward side its greedy next token
before ``G + suffix`` (``G`` grows leftwards). The sides *meet* when the newest token of one
side equals a token of the other side's generated run (or the other side's adjacent context
token: the first suffix token / the last prefix token); each such junction gives a candidate
middle. Candidates are then checked by both directions in one batched forward: every middle
token (and ``verify_tokens`` context tokens across each boundary) must have probability at
least ``tau`` times the most likely token's under the forward model given everything to its
left and under the backward model given everything to its right. The first step with a passing
candidate ends the example (best mean log-probability of both directions among passing ones).
If none passes within ``max_new_tokens`` steps, the best-scoring candidate seen (or the
forward side's run) is returned with ``met=False``.

``min_new_tokens`` (default 0: any length, an empty middle included) is the shortest middle
any method may return, for tasks where the gap is known to be non-empty. MIM: junction
candidates shorter than it are dropped before the check (both sides keep generating, the
tokens they made stay). L2R: the suffix's first token ends generation only once the middle
has ``min_new_tokens`` tokens; before that it is kept as an ordinary middle token. FIM:
``<fim_end>`` is masked out until then (it cannot be part of a middle), as transformers'
``min_new_tokens`` does with EOS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from lmlab_common import progress, require, require_choice, require_int, require_range

from .decoding import Stepper, score_rows
from .fim import fim_prompt
from .model import BidirectionalLM
from .options import INFILL_METHODS


@dataclass
class InfillResult:
    """One infilled example. ``met``: MIM — a junction passed both checks; L2R — generation
    reached the first suffix token; FIM — the model emitted ``<fim_end>``."""

    middle_ids: list[int]
    middle: str
    method: str
    met: bool
    steps: int
    score: float = float("nan")


def _check_inputs(model, prefixes, suffixes, max_new_tokens, min_new_tokens, extra) -> None:
    require_int("max_new_tokens", max_new_tokens, 1)
    require_int("min_new_tokens", min_new_tokens, 0)
    require(
        min_new_tokens <= max_new_tokens,
        "min_new_tokens",
        min_new_tokens,
        f"at most max_new_tokens={max_new_tokens}",
    )
    require(len(prefixes) == len(suffixes), "suffix", f"{len(suffixes)} items", f"{len(prefixes)}")
    context = model.context_size
    for i, (p, s) in enumerate(zip(prefixes, suffixes, strict=True)):
        need = len(p) + len(s) + max_new_tokens + extra
        if need > context:
            raise ValueError(
                f"example {i}: prefix ({len(p)} tokens) + suffix ({len(s)}) + max_new_tokens "
                f"({max_new_tokens}) + {extra} special tokens = {need} exceeds the model's "
                f"context of {context} tokens; allowed: a total <= {context}"
            )


def _candidates(p, s, f, g) -> list[list[int]]:
    """Middles formed where the newest token of one side meets the other side (see module)."""
    out: list[list[int]] = []
    if f:
        newest = f[-1]
        for j in range(1, len(g) + 1):  # g[j-1] == newest: F + g_{j-1} .. g_1
            if g[j - 1] == newest:
                out.append(f + g[: j - 1][::-1])
        if s and s[0] == newest:
            out.append(f[:-1])
    if g:
        newest = g[-1]
        for i in range(1, len(f) + 1):  # f[i-1] == newest: f_1 .. f_{i-1} + g_n .. g_1
            if f[i - 1] == newest:
                out.append(f[: i - 1] + g[::-1])
        if p and p[-1] == newest:
            out.append(g[:-1][::-1])
    unique: list[list[int]] = []
    for cand in out:
        if cand not in unique:
            unique.append(cand)
    return unique


def _verify(model: BidirectionalLM, items, verify_tokens: int):
    """Score (p, s, middle) triples with both directions; → (min ratio, mean log-prob) each."""
    cfg = model.bidir_config
    f_rows, f_from, b_rows, b_from = [], [], [], []
    for p, s, m in items:
        f_rows.append([cfg.forward_token_id, *p, *m, *s[:verify_tokens]])
        f_from.append(1 + len(p))
        tail = p[::-1][:verify_tokens]
        b_rows.append([cfg.backward_token_id, *s[::-1], *m[::-1], *tail])
        b_from.append(1 + len(s))
    pad = cfg.pad_token_id
    if model.backward_model is None:
        ratio, lp = score_rows(model.forward_model, f_rows + b_rows, f_from + b_from, pad)
        fr, br, fl, bl = *ratio.chunk(2), *lp.chunk(2)
    else:
        fr, fl = score_rows(model.forward_model, f_rows, f_from, pad)
        br, bl = score_rows(model.backward_model, b_rows, b_from, pad)
    return torch.minimum(fr, br), (fl + bl) / 2


def _mim_batch(
    model, prefixes, suffixes, max_new_tokens, tau, verify_tokens, max_candidates, min_new_tokens=0
):
    cfg = model.bidir_config
    n = len(prefixes)
    f_rows = [[cfg.forward_token_id, *p] for p in prefixes]
    b_rows = [[cfg.backward_token_id, *s[::-1]] for s in suffixes]
    if model.backward_model is None:
        steppers = [Stepper(model.forward_model, f_rows + b_rows, cfg.pad_token_id)]
    else:
        steppers = [
            Stepper(model.forward_model, f_rows, cfg.pad_token_id),
            Stepper(model.backward_model, b_rows, cfg.pad_token_id),
        ]
    logits = torch.cat([st.start() for st in steppers])  # (2n, V): forward rows, then backward
    f_gen: list[list[int]] = [[] for _ in range(n)]
    g_gen: list[list[int]] = [[] for _ in range(n)]
    results: list[InfillResult | None] = [None] * n
    best_failed: list[tuple[float, list[int]] | None] = [None] * n
    for step in range(1, max_new_tokens + 1):
        nxt = logits.argmax(-1)
        tokens = nxt.tolist()
        items, owners = [], []
        for b in range(n):
            if results[b] is not None:
                continue
            f_gen[b].append(tokens[b])
            g_gen[b].append(tokens[n + b])
            cands = _candidates(prefixes[b], suffixes[b], f_gen[b], g_gen[b])
            cands = [c for c in cands if min_new_tokens <= len(c) <= max_new_tokens]
            cands = cands[:max_candidates]
            items += [(prefixes[b], suffixes[b], c) for c in cands]
            owners += [b] * len(cands)
        if items:
            ratio, score = _verify(model, items, verify_tokens)
            best: dict[int, tuple[float, list[int]]] = {}
            for k, b in enumerate(owners):
                cand, r, sc = items[k][2], float(ratio[k]), float(score[k])
                if r >= tau and (b not in best or sc > best[b][0]):
                    best[b] = (sc, cand)
                if r < tau and (best_failed[b] is None or r > best_failed[b][0]):
                    best_failed[b] = (r, cand)
            for b, (sc, cand) in best.items():
                results[b] = InfillResult(cand, "", "mim", True, step, sc)
        if all(r is not None for r in results) or step == max_new_tokens:
            break
        if len(steppers) == 1:
            logits = steppers[0].step(nxt)
        else:
            logits = torch.cat([steppers[0].step(nxt[:n]), steppers[1].step(nxt[n:])])
    out = []
    steps_done = step
    for b in range(n):
        if results[b] is None:
            fallback = best_failed[b][1] if best_failed[b] is not None else f_gen[b]
            results[b] = InfillResult(fallback, "", "mim", False, steps_done)
        out.append(results[b])
    return out


def _greedy_batch(model, rows, stop_ids, max_new_tokens, method, min_new_tokens=0, mask=None):
    """Left-to-right greedy decoding of ``rows`` until each row's stop token (or the budget).

    A stop token seen before a row has ``min_new_tokens`` tokens does not stop it: it is kept
    as a middle token, or (``mask`` = a token id, FIM's ``<fim_end>``) never chosen then.
    """
    stepper = Stepper(model.forward_model, rows, model.bidir_config.pad_token_id)
    logits = stepper.start()
    gen: list[list[int]] = [[] for _ in rows]
    stopped = [False] * len(rows)
    for step in range(1, max_new_tokens + 1):
        if mask is not None and step <= min_new_tokens:
            logits[:, mask] = float("-inf")
        nxt = logits.argmax(-1)
        for b, tok in enumerate(nxt.tolist()):
            if stopped[b]:
                continue
            if stop_ids[b] is not None and tok == stop_ids[b] and len(gen[b]) >= min_new_tokens:
                stopped[b] = True
            else:
                gen[b].append(tok)
        if all(stopped) or step == max_new_tokens:
            break
        logits = stepper.step(nxt)
    return [InfillResult(g, "", method, s, step) for g, s in zip(gen, stopped, strict=True)]


@torch.no_grad()
def infill_ids(
    model: BidirectionalLM,
    prefixes: Sequence[Sequence[int]],
    suffixes: Sequence[Sequence[int]],
    max_new_tokens: int = 32,
    method: str | None = None,
    batch_size: int = 32,
    tau: float = 0.1,
    verify_tokens: int = 1,
    max_candidates: int = 8,
    show_progress: bool | None = None,
    min_new_tokens: int = 0,
) -> list[InfillResult]:
    """Infill token-id examples; ``method`` defaults to the one the model was built for
    (``model.bidir_config.method``). Greedy, so deterministic. ``min_new_tokens``: the
    shortest middle returned (0: an empty middle is allowed). See the module docstring."""
    method = method or model.bidir_config.method
    require_choice("method", method, INFILL_METHODS)
    require_range("tau", tau, 0.0, 1.0)
    require_int("verify_tokens", verify_tokens, 0)
    require_int("batch_size", batch_size, 1)
    require_int("max_candidates", max_candidates, 1)
    prefixes = [list(p) for p in prefixes]
    suffixes = [list(s) for s in suffixes]
    extra = 6 if method == "fim" else 2
    _check_inputs(model, prefixes, suffixes, max_new_tokens, min_new_tokens, extra)
    was_training = model.training
    model.eval()
    out: list[InfillResult] = []
    try:
        starts = range(0, len(prefixes), batch_size)
        for start in progress(
            starts,
            desc=f"infill ({method})",
            disable=None if show_progress is None else not show_progress,
        ):
            ps = prefixes[start : start + batch_size]
            ss = suffixes[start : start + batch_size]
            if method == "mim":
                batch = _mim_batch(
                    model,
                    ps,
                    ss,
                    max_new_tokens,
                    tau,
                    verify_tokens,
                    max_candidates,
                    min_new_tokens,
                )
            elif method == "l2r":
                rows = [[model.bidir_config.forward_token_id, *p] for p in ps]
                stops = [s[0] if s else None for s in ss]
                batch = _greedy_batch(model, rows, stops, max_new_tokens, "l2r", min_new_tokens)
            else:
                cfg = model.bidir_config
                rows = [
                    [cfg.forward_token_id, *fim_prompt(p, s, cfg.fim_ids)]
                    for p, s in zip(ps, ss, strict=True)
                ]
                stops = [cfg.fim_end_id] * len(rows)
                batch = _greedy_batch(
                    model, rows, stops, max_new_tokens, "fim", min_new_tokens, cfg.fim_end_id
                )
            out.extend(batch)
    finally:
        model.train(was_training)
    return out


def infill(
    model: BidirectionalLM,
    tokenizer,
    prefix: str | Sequence[str],
    suffix: str | Sequence[str],
    max_new_tokens: int = 32,
    method: str | None = None,
    **kwargs,
) -> InfillResult | list[InfillResult]:
    """Fill the gap between ``prefix`` and ``suffix`` (strings, or equal-length lists of them).

    ``method``: ``"mim"`` (meet in the middle), ``"l2r"`` (forward only; the suffix is used
    only as a stop marker: generation ends at its first token) or ``"fim"`` (PSM prompt).
    Returns one :class:`InfillResult` for a string input, a list for a list input.
    """
    single = isinstance(prefix, str)
    if single != isinstance(suffix, str):
        raise ValueError("prefix and suffix must both be strings or both be lists of strings")
    prefixes = [prefix] if single else list(prefix)
    suffixes = [suffix] if single else list(suffix)

    def encode(texts):
        return [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]

    results = infill_ids(
        model, encode(prefixes), encode(suffixes), max_new_tokens, method, **kwargs
    )
    for r in results:
        r.middle = tokenizer.decode(r.middle_ids, skip_special_tokens=True)
    return results[0] if single else results
