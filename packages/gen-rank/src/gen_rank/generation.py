"""Batched candidate generation, candidate log-probabilities and tokenizer round-trip checks.

Works for encoder-decoder generators (BART, T5) and decoder-only ones (GPT-2, Llama). A
decoder-only prompt is ``source tokens + [BOS]`` (or ``[EOS]`` when there is no BOS), left-padded
for generation; its answer follows and ends with EOS. Every source gets ``C`` candidates from a
single ``generate(..., num_return_sequences=C)`` call per batch: row ``b * C + c`` is candidate
``c`` of source ``b``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch.nn import functional as F
from transformers import PreTrainedModel, PreTrainedTokenizerBase


def is_seq2seq(model: PreTrainedModel) -> bool:
    return bool(getattr(model.config, "is_encoder_decoder", False))


def _eos_id(tokenizer: PreTrainedTokenizerBase, model: PreTrainedModel) -> int:
    eos = tokenizer.eos_token_id
    if eos is None:
        eos = model.config.eos_token_id
    if isinstance(eos, list):
        eos = eos[0]
    if eos is None:
        raise ValueError("the generator tokenizer has no eos_token_id; allowed: one with EOS")
    return int(eos)


def _pad_id(tokenizer: PreTrainedTokenizerBase, eos: int) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos


@dataclass
class SourceBatch:
    """Tokenised sources: ``input_ids`` / ``attention_mask`` ``(B, S)``; decoder-only prompts
    are left-padded."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor


def encode_sources(
    generator: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    sources: Sequence[str],
    max_source_length: int = 400,
) -> SourceBatch:
    """Tokenise ``sources`` as the generator's inputs (see the module docstring)."""
    eos = _eos_id(tokenizer, generator)
    pad = _pad_id(tokenizer, eos)
    if is_seq2seq(generator):
        rows = tokenizer(list(sources), add_special_tokens=True)["input_ids"]
        rows = [r[:max_source_length] for r in rows]
        left = False
    else:
        sep = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else eos
        rows = tokenizer(list(sources), add_special_tokens=False)["input_ids"]
        rows = [r[: max_source_length - 1] + [sep] for r in rows]
        left = True
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        span = slice(width - len(r), width) if left else slice(0, len(r))
        ids[i, span] = torch.tensor(r, dtype=torch.long)
        mask[i, span] = 1
    return SourceBatch(ids, mask)


def encode_targets(
    tokenizer: PreTrainedTokenizerBase, targets: Sequence[str], eos: int, max_length: int
) -> list[list[int]]:
    """Target token ids ending with EOS (appended when the tokenizer does not add it)."""
    rows = tokenizer(list(targets), add_special_tokens=True)["input_ids"]
    out = []
    for r in rows:
        r = list(r)
        if r and r[-1] == eos:
            r = r[:-1]
        r = r[: max_length - 1] + [eos]
        out.append(r)
    return out


def mle_batch(
    generator: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    sources: Sequence[str],
    targets: Sequence[str],
    max_source_length: int = 400,
    max_target_length: int = 109,
) -> dict[str, torch.Tensor]:
    """Teacher-forcing inputs with ``labels`` (-100 outside the target tokens); for a
    decoder-only generator the rows are ``prompt + target + EOS``, right-padded."""
    eos = _eos_id(tokenizer, generator)
    pad = _pad_id(tokenizer, eos)
    tgt = encode_targets(tokenizer, targets, eos, max_target_length)
    src = encode_sources(generator, tokenizer, sources, max_source_length)
    if is_seq2seq(generator):
        labels = torch.full((len(tgt), max(map(len, tgt))), -100, dtype=torch.long)
        for i, t in enumerate(tgt):
            labels[i, : len(t)] = torch.tensor(t)
        return {"input_ids": src.input_ids, "attention_mask": src.attention_mask, "labels": labels}
    prompts = [
        row[m.bool()].tolist() for row, m in zip(src.input_ids, src.attention_mask, strict=True)
    ]
    rows = [p + t for p, t in zip(prompts, tgt, strict=True)]
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros_like(ids)
    labels = torch.full_like(ids, -100)
    for i, (p, r) in enumerate(zip(prompts, rows, strict=True)):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
        labels[i, len(p) : len(r)] = torch.tensor(r[len(p) :])
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


@dataclass
class Candidates:
    """``C`` generated candidates for each of ``B`` sources.

    ``sequences``: ``(B*C, T)`` exactly as ``generate`` returned them; ``prompt_length``: the
    columns before the first generated token (decoder start for seq2seq, the prompt width for
    decoder-only); ``texts``: ``B`` lists of ``C`` decoded strings.
    """

    sources: SourceBatch
    sequences: torch.Tensor
    prompt_length: int
    texts: list[list[str]]
    num_candidates: int
    eos_token_id: int


@torch.no_grad()
def sample_candidates(
    generator: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    sources: Sequence[str],
    num_candidates: int,
    *,
    do_sample: bool = True,
    max_new_tokens: int = 109,
    temperature: float = 1.0,
    top_k: int = 50,
    top_p: float = 1.0,
    num_beams: int | None = None,
    length_penalty: float = 1.0,
    max_source_length: int = 400,
) -> Candidates:
    """One batched ``generate`` call: ``num_candidates`` samples (or beams) per source."""
    if num_candidates < 1:
        raise ValueError(f"num_candidates={num_candidates!r} is invalid; allowed: an int >= 1")
    if len(sources) == 0:
        raise ValueError("sources=[] is invalid; allowed: at least one source")
    eos = _eos_id(tokenizer, generator)
    pad = _pad_id(tokenizer, eos)
    batch = encode_sources(generator, tokenizer, sources, max_source_length)
    device = next(generator.parameters()).device
    kwargs = dict(
        input_ids=batch.input_ids.to(device),
        attention_mask=batch.attention_mask.to(device),
        num_return_sequences=num_candidates,
        max_new_tokens=max_new_tokens,
        eos_token_id=eos,
        pad_token_id=pad,
    )
    if do_sample:
        kwargs |= dict(do_sample=True, num_beams=1, temperature=temperature, top_k=top_k)
        kwargs |= dict(top_p=top_p)
    else:
        beams = max(num_beams or num_candidates, num_candidates)
        kwargs |= dict(do_sample=False, num_beams=beams, length_penalty=length_penalty)
        kwargs |= dict(early_stopping=True)
    was_training = generator.training
    generator.eval()
    try:
        sequences = generator.generate(**kwargs)
    finally:
        generator.train(was_training)
    prompt_length = 1 if is_seq2seq(generator) else batch.input_ids.shape[1]
    generated = sequences[:, prompt_length:]
    keep = _until_eos(generated, eos)
    # one batched decode: positions after the first EOS become pad (a special token, skipped)
    rows = torch.where(keep, generated, torch.full_like(generated, pad)).tolist()
    flat = [t.strip() for t in tokenizer.batch_decode(rows, skip_special_tokens=True)]
    texts = [flat[i : i + num_candidates] for i in range(0, len(flat), num_candidates)]
    return Candidates(batch, sequences.cpu(), prompt_length, texts, num_candidates, eos)


def _until_eos(generated: torch.Tensor, eos: int) -> torch.Tensor:
    """Bool mask ``(N, T)``: tokens up to and including the first EOS of each row."""
    is_eos = (generated == eos).long()
    before = torch.cumsum(is_eos, dim=1) - is_eos
    return before == 0


def candidate_logprobs(
    generator: torch.nn.Module,
    candidates: Candidates,
    mask_pad_after_eos: bool = True,
    is_encoder_decoder: bool | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Teacher-forced ``log p(ŷ_t | x, ŷ_<t)`` of every generated token, with gradients.

    Returns ``(logp, mask)``, both ``(B*C, T)``. ``mask`` covers tokens up to the first EOS
    when ``mask_pad_after_eos`` (default), else every generated position (official).
    """
    device = next(generator.parameters()).device
    seq = candidates.sequences.to(device)
    c = candidates.num_candidates
    src = candidates.sources.input_ids.to(device).repeat_interleave(c, dim=0)
    src_mask = candidates.sources.attention_mask.to(device).repeat_interleave(c, dim=0)
    p = candidates.prompt_length
    if is_encoder_decoder is None:
        is_encoder_decoder = bool(getattr(generator.config, "is_encoder_decoder", False))
    if is_encoder_decoder:
        logits = generator(
            input_ids=src, attention_mask=src_mask, decoder_input_ids=seq[:, :-1]
        ).logits
        targets = seq[:, 1:]
    else:
        gen_mask = torch.ones_like(seq[:, p:])
        attn = torch.cat([src_mask, gen_mask], dim=1)
        positions = (attn.cumsum(-1) - 1).clamp(min=0)
        logits = generator(
            input_ids=seq[:, :-1], attention_mask=attn[:, :-1], position_ids=positions[:, :-1]
        ).logits[:, p - 1 :]
        targets = seq[:, p:]
    logp = torch.gather(F.log_softmax(logits.float(), dim=-1), 2, targets.unsqueeze(-1))
    logp = logp.squeeze(-1)
    if mask_pad_after_eos:
        mask = _until_eos(targets, candidates.eos_token_id)
    else:
        mask = torch.ones_like(targets, dtype=torch.bool)
    return logp, mask


def check_round_trip(
    generator_tokenizer: PreTrainedTokenizerBase,
    ranker_tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
) -> None:
    """Raise ``ValueError`` when text written by the generator's tokenizer does not survive
    re-tokenisation by the ranker's (unknown tokens, dropped characters). Case and spacing may
    differ (uncased rankers are fine)."""
    if ranker_tokenizer is generator_tokenizer:
        return

    def norm(s: str) -> str:
        return "".join(s.split()).casefold()

    for text in texts:
        ids = ranker_tokenizer(text, add_special_tokens=False)["input_ids"]
        back = ranker_tokenizer.decode(ids, skip_special_tokens=False)
        unk = ranker_tokenizer.unk_token_id
        if norm(back) != norm(text) or (unk is not None and unk in ids):
            raise ValueError(
                f"generator and ranker tokenizers cannot round-trip text: {text!r} "
                f"detokenised/retokenised by the ranker's {type(ranker_tokenizer).__name__} "
                f"reads {back!r}; allowed: a ranker tokenizer whose vocabulary covers the "
                "generator's output (e.g. the same tokenizer family)"
            )
