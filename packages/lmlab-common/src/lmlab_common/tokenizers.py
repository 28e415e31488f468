"""Train small WordLevel or byte-level BPE tokenizers offline into ``PreTrainedTokenizerFast``.

Special tokens (ids 0-4): ``[PAD]``, ``[UNK]``, ``[CLS]`` (also bos), ``[SEP]`` (also eos),
``[MASK]``.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from .config import require, require_choice

SPECIAL_TOKENS = {
    "pad_token": "[PAD]",
    "unk_token": "[UNK]",
    "cls_token": "[CLS]",
    "sep_token": "[SEP]",
    "mask_token": "[MASK]",
}
KINDS = ("wordlevel", "bpe")
WRAPS = ("cls_sep", "eos", None)


def train_tokenizer(
    texts: Iterable[str],
    kind: str = "wordlevel",
    vocab_size: int = 1000,
    min_frequency: int = 1,
    wrap: str | None = "cls_sep",
    lowercase: bool = False,
    model_max_length: int = 512,
) -> PreTrainedTokenizerFast:
    """Train a tokenizer on ``texts`` without any network access.

    ``kind``: ``"wordlevel"`` (whitespace/punctuation words) or ``"bpe"`` (byte-level BPE,
    never produces ``[UNK]``). ``wrap``: ``"cls_sep"`` adds ``[CLS] ... [SEP]`` (encoder
    style), ``"eos"`` appends ``[SEP]`` as eos, ``None`` adds nothing (causal LM style).
    """
    require_choice("kind", kind, KINDS)
    require_choice("wrap", wrap, WRAPS)
    require(
        isinstance(vocab_size, int) and vocab_size > len(SPECIAL_TOKENS),
        "vocab_size",
        vocab_size,
        f"an int > {len(SPECIAL_TOKENS)}",
    )
    specials = list(SPECIAL_TOKENS.values())
    if kind == "wordlevel":
        tok = Tokenizer(models.WordLevel(unk_token=SPECIAL_TOKENS["unk_token"]))
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        trainer = trainers.WordLevelTrainer(
            vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=specials
        )
    else:
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        )
    if lowercase:
        from tokenizers import normalizers

        tok.normalizer = normalizers.Lowercase()
    texts = [t for t in texts]
    require(len(texts) > 0, "texts", "<empty>", "at least one text")
    tok.train_from_iterator(texts, trainer=trainer)
    cls_id = tok.token_to_id("[CLS]")
    sep_id = tok.token_to_id("[SEP]")
    if wrap == "cls_sep":
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]",
            pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
        )
    elif wrap == "eos":
        tok.post_processor = processors.TemplateProcessing(
            single="$A [SEP]", pair="$A [SEP] $B:1 [SEP]:1", special_tokens=[("[SEP]", sep_id)]
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="[CLS]",
        eos_token="[SEP]",
        model_max_length=model_max_length,
        **SPECIAL_TOKENS,
    )
