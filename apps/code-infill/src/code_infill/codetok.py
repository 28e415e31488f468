"""A byte-level BPE tokenizer for program text, applied line by line.

Each line is encoded on its own and followed by the newline token, so a program's ids are
exactly the concatenation of its prefix's, middle's and suffix's ids when the cut falls
between lines: the model sees the same tokens at a line boundary in training and infilling.
"""

from __future__ import annotations

from collections.abc import Iterable

from lmlab_common import train_tokenizer

NEWLINE_TOKEN = "Ċ"  # the byte-level alphabet's symbol for b"\n"


def train_code_tokenizer(programs: Iterable[str], vocab_size: int = 400):
    """Byte-level BPE trained on the lines of ``programs`` (never produces ``[UNK]``)."""
    lines = [line for code in programs for line in code.splitlines() if line.strip()]
    return train_tokenizer(lines, kind="bpe", vocab_size=vocab_size, wrap=None)


def newline_id(tokenizer) -> int:
    return tokenizer.convert_tokens_to_ids(NEWLINE_TOKEN)


def encode_code(tokenizer, texts: list[str]) -> list[list[int]]:
    """Token ids of each text, encoded line by line (one batched tokenizer call)."""
    nl = newline_id(tokenizer)
    pieces: list[tuple[int, str, bool]] = []
    for i, text in enumerate(texts):
        for line in text.splitlines(keepends=True):
            body = line.rstrip("\r\n")
            pieces.append((i, body, line != body))
    bodies = [body for _, body, _ in pieces]
    encoded = tokenizer(bodies, add_special_tokens=False)["input_ids"] if bodies else []
    out: list[list[int]] = [[] for _ in texts]
    for (i, _, has_newline), ids in zip(pieces, encoded, strict=True):
        out[i].extend(ids)
        if has_newline:
            out[i].append(nl)
    return out


def decode_code(tokenizer, ids: list[int]) -> str:
    """Text of ``ids`` (special tokens such as ``<fim_end>`` dropped)."""
    return tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)
