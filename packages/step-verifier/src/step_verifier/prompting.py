"""Diverse prompts and batched path sampling from any causal LM.

A prompt is a few-shot context in the official format
``Question:\\n{Q}\\n{solution}\\n\\n`` per exemplar; the question to solve is appended as
``Question:\\n{Q}\\nAnswer:\\n``. ``sample_paths`` runs one ``generate`` call per batch of
(question, prompt) contexts with ``num_return_sequences = paths_per_prompt``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import torch
from lmlab_common import progress, require, require_int, require_range

from .data import Problem, ReasoningPath, parse_gsm8k_solution


def build_prompts(
    exemplars: Sequence[Problem],
    num_prompts: int = 5,
    exemplars_per_prompt: int = 5,
    seed: int = 0,
) -> list[str]:
    """``num_prompts`` few-shot contexts, each of ``exemplars_per_prompt`` exemplars drawn
    without replacement (paper: 5 prompts × 5 exemplars for GSM8K). Exemplars need a gold
    solution."""
    require_int("num_prompts", num_prompts, low=1)
    require_int("exemplars_per_prompt", exemplars_per_prompt, low=0)
    require(
        exemplars_per_prompt <= len(exemplars),
        "exemplars_per_prompt",
        exemplars_per_prompt,
        f"at most the number of exemplars ({len(exemplars)})",
    )
    for i, ex in enumerate(exemplars):
        if ex.gold_solution is None:
            raise ValueError(f"exemplar {i} has no gold_solution; allowed: solved exemplars")
    rng = random.Random(seed)
    prompts = []
    for _ in range(num_prompts):
        chosen = rng.sample(list(exemplars), exemplars_per_prompt)
        prompts.append("".join(render_exemplar(ex) for ex in chosen))
    return prompts


def render_exemplar(problem: Problem) -> str:
    assert problem.gold_solution is not None
    return f"Question:\n{problem.question}\n{problem.gold_solution.text}\n\n"


def render_context(prompt: str, question: str) -> str:
    return f"{prompt}Question:\n{question}\nAnswer:\n"


def sample_paths(
    model,
    tokenizer,
    questions: Sequence[str],
    prompts: Sequence[str] = ("",),
    paths_per_prompt: int = 20,
    temperature: float = 0.5,
    max_new_tokens: int = 128,
    batch_size: int = 16,
    seed: int = 0,
    parser: Callable[[str], ReasoningPath] = parse_gsm8k_solution,
    context: Callable[[str, str], str] = render_context,
    show_progress: bool = True,
) -> list[list[ReasoningPath]]:
    """Sample ``len(prompts) × paths_per_prompt`` parsed paths per question.

    ``temperature=0`` decodes greedily (then ``paths_per_prompt`` must be 1). Contexts are
    left-padded and ``batch_size`` contexts go into one ``generate`` call, each expanded to
    ``paths_per_prompt`` sequences. Paths keep the index of their prompt. Seeded.
    """
    require(len(prompts) > 0, "prompts", list(prompts), "at least one prompt ('' = zero-shot)")
    require_int("paths_per_prompt", paths_per_prompt, low=1)
    require_range("temperature", temperature, 0.0)
    require_int("batch_size", batch_size, low=1)
    require_int("max_new_tokens", max_new_tokens, low=1)
    greedy = temperature == 0
    require(
        not greedy or paths_per_prompt == 1,
        "paths_per_prompt",
        paths_per_prompt,
        "1 when temperature=0 (greedy decoding is deterministic)",
    )
    if not questions:
        return []
    pad_id = (
        tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    )
    if pad_id is None:
        raise ValueError("tokenizer has neither pad nor eos token; allowed: one of them set")
    jobs = [(q, p) for q in range(len(questions)) for p in range(len(prompts))]
    texts = [context(prompts[p], questions[q]) for q, p in jobs]
    out: list[list[ReasoningPath]] = [[] for _ in questions]
    device = next(model.parameters()).device
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    was_training = model.training
    model.eval()
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            starts = range(0, len(jobs), batch_size)
            for start in progress(starts, desc="sampling", disable=None if show_progress else True):
                chunk = texts[start : start + batch_size]
                enc = tokenizer(chunk, return_tensors="pt", padding=True, add_special_tokens=False)
                enc = {k: v.to(device) for k, v in enc.items() if k != "token_type_ids"}
                with torch.no_grad():
                    gen = model.generate(
                        **enc,
                        do_sample=not greedy,
                        temperature=None if greedy else temperature,
                        top_k=0 if not greedy else None,
                        top_p=None,
                        num_return_sequences=paths_per_prompt,
                        max_new_tokens=max_new_tokens,
                        pad_token_id=pad_id,
                        eos_token_id=tokenizer.eos_token_id,
                    )
                new = gen[:, enc["input_ids"].shape[1] :]
                decoded = tokenizer.batch_decode(new, skip_special_tokens=True)
                for j, text in enumerate(decoded):
                    q, p = jobs[start + j // paths_per_prompt]
                    path = parser(text)
                    path.prompt_index = p
                    out[q].append(path)
    finally:
        tokenizer.padding_side = side
        model.train(was_training)
    return out
