"""Generate-then-rank inference: ``C`` candidates per source, scored by the ranker.

As the official ``prediction_step``: beam search with ``num_beams = num_return_sequences = C``;
the generator's answer ("JGR-G") is beam 0, the ranker's ("JGR-R") the argmax of its scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from lmlab_common import progress, require_choice, require_int
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from .generation import check_round_trip, sample_candidates
from .ranker import Ranker

STRATEGIES = ("beam", "sample")


@dataclass
class RankedGeneration:
    """One source's candidates (generator order: beam 0 first), ranker scores and pick."""

    source: str
    candidates: list[str]
    scores: list[float]
    chosen: str
    chosen_index: int

    @property
    def top(self) -> str:
        """The generator's own answer: the first candidate (top beam)."""
        return self.candidates[0]

    def to_dict(self) -> dict:
        return asdict(self)


def generate_then_rank(
    generator: PreTrainedModel,
    ranker: Ranker,
    tokenizer: PreTrainedTokenizerBase,
    sources: Sequence[str],
    num_candidates: int = 16,
    *,
    ranker_tokenizer: PreTrainedTokenizerBase | None = None,
    strategy: str = "beam",
    batch_size: int = 16,
    max_new_tokens: int = 109,
    max_source_length: int = 400,
    ranker_max_source_length: int = 400,
    ranker_max_target_length: int = 109,
    length_penalty: float = 1.0,
    temperature: float = 1.0,
    top_k: int = 50,
    top_p: float = 1.0,
    show_progress: bool | None = None,
) -> list[RankedGeneration]:
    """Candidates from ``generator`` for every source, ranked by ``ranker``.

    ``strategy``: ``"beam"`` (official: C beams, C returned) or ``"sample"``. Generation is
    batched (``batch_size`` sources per ``generate`` call); seed with ``lmlab_common.set_seed``
    for sampling.
    """
    require_choice("strategy", strategy, STRATEGIES)
    require_int("num_candidates", num_candidates, 1)
    require_int("batch_size", batch_size, 1)
    sources = list(sources)
    if not sources:
        raise ValueError("sources=[] is invalid; allowed: at least one source")
    rtok = ranker_tokenizer if ranker_tokenizer is not None else tokenizer
    check_round_trip(tokenizer, rtok, sources[:32])
    results: list[RankedGeneration] = []
    starts = range(0, len(sources), batch_size)
    for start in progress(
        starts,
        desc="generate-then-rank",
        disable=None if show_progress is None else not show_progress,
    ):
        chunk = sources[start : start + batch_size]
        cands = sample_candidates(
            generator,
            tokenizer,
            chunk,
            num_candidates,
            do_sample=strategy == "sample",
            max_new_tokens=max_new_tokens,
            max_source_length=max_source_length,
            length_penalty=length_penalty,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
        )
        scores = ranker.score(
            rtok, chunk, cands.texts, ranker_max_source_length, ranker_max_target_length
        ).cpu()
        for src, texts, row in zip(chunk, cands.texts, scores.tolist(), strict=True):
            best = max(range(len(row)), key=row.__getitem__)
            results.append(RankedGeneration(src, texts, row, texts[best], best))
    return results
