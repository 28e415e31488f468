"""Embedding sharing between generator and discriminator: NES, ES and GDES.

- NES: the two models keep their own ``nn.Embedding`` modules.
- ES: the discriminator's embedding modules *are* the generator's (one module, one set of
  parameters); trained with one joint loss, the RTD gradient reaches E_G.
- GDES: the discriminator's embedding is a :class:`GDESEmbedding` computing
  ``E_D = stopgrad(E_G) + E_delta`` with ``E_delta`` zero-initialised, so the RTD loss trains
  only ``E_delta`` and never reaches ``E_G``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from lmlab_common import require_choice
from torch import nn
from transformers import PreTrainedModel

from .config import SHARING_MODES

# Embedding tables shared when both models have them (the official code shares word and
# absolute-position embeddings; ELECTRA's tied mode shares every embedding table).
SHARED_TABLES = ("word_embeddings", "position_embeddings", "token_type_embeddings")


class GDESEmbedding(nn.Module):
    """``E_D = E_G.detach() + delta``: the discriminator's view of a generator embedding table.

    ``source`` is the generator's ``nn.Embedding``; it is *not* registered as a submodule (its
    parameters belong to the generator), only referenced. ``delta`` has the same shape and
    starts at zero. ``forward(ids: (B, T)) -> (B, T, D)``.
    """

    def __init__(self, source: nn.Embedding) -> None:
        super().__init__()
        object.__setattr__(self, "_source", source)  # a reference, not a child module
        self.delta = nn.Parameter(torch.zeros_like(source.weight))
        self.padding_idx = source.padding_idx
        self.num_embeddings, self.embedding_dim = source.weight.shape

    @property
    def source(self) -> nn.Embedding:
        return self._source

    @property
    def weight(self) -> torch.Tensor:
        """The merged table ``E_G.detach() + delta`` (what the discriminator reads)."""
        return self._source.weight.detach() + self.delta

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(input_ids, self.weight, self.padding_idx)

    def merged(self) -> nn.Embedding:
        """A plain ``nn.Embedding`` holding ``E_G + delta`` (for export)."""
        table = nn.Embedding(self.num_embeddings, self.embedding_dim, padding_idx=self.padding_idx)
        with torch.no_grad():
            table.weight.copy_(self.weight)
        return table.to(self.delta.device)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}, delta=E_D-sg(E_G)"


def embeddings_module(model: PreTrainedModel) -> nn.Module:
    """The ``embeddings`` block of a DeBERTa-v2 / ELECTRA / BERT-like model."""
    base = getattr(model, model.base_model_prefix, model)
    block = getattr(base, "embeddings", None)
    if block is None:
        raise ValueError(
            f"{type(model).__name__} has no '{model.base_model_prefix}.embeddings' block; "
            "allowed: DeBERTa-v2/v3 or ELECTRA models"
        )
    return block


def shared_table_names(generator: PreTrainedModel, discriminator: PreTrainedModel) -> list[str]:
    """Names in :data:`SHARED_TABLES` that both models have (non-``None``)."""
    g, d = embeddings_module(generator), embeddings_module(discriminator)
    return [n for n in SHARED_TABLES if getattr(g, n, None) is not None and getattr(d, n, None)
            is not None]  # fmt: skip


def check_shareable(generator: PreTrainedModel, discriminator: PreTrainedModel) -> list[str]:
    """Raise ``ValueError`` unless every shared table has the same shape in both models."""
    g, d = embeddings_module(generator), embeddings_module(discriminator)
    names = shared_table_names(generator, discriminator)
    if "word_embeddings" not in names:
        raise ValueError("no word_embeddings table found in both generator and discriminator")
    for name in names:
        gs, ds = tuple(_table(g, name).weight.shape), tuple(_table(d, name).weight.shape)
        if gs != ds:
            what = "vocabulary size" if gs[0] != ds[0] else "embedding width"
            raise ValueError(
                f"generator {name} shape {gs} != discriminator {name} shape {ds} ({what} "
                "differs); embedding sharing (es, gdes) needs equal vocabularies and embedding "
                "widths: build the generator from the discriminator config, or use "
                "embedding_sharing='nes'"
            )
    return names


def _table(block: nn.Module, name: str) -> nn.Module:
    return getattr(block, name)


def apply_sharing(
    generator: PreTrainedModel, discriminator: PreTrainedModel, sharing: str
) -> list[str]:
    """Wire the discriminator's embedding tables to the generator's, in place.

    Returns the names of the shared tables (empty for ``nes``). For ``gdes`` the existing
    discriminator tables are replaced by zero-delta :class:`GDESEmbedding` modules, so the
    discriminator starts from exactly the generator's embeddings (as the official code does).
    """
    require_choice("sharing", sharing, SHARING_MODES)
    if sharing == "nes":
        vocab_g = embeddings_module(generator).word_embeddings.weight.shape[0]
        vocab_d = embeddings_module(discriminator).word_embeddings.weight.shape[0]
        if vocab_g != vocab_d:
            raise ValueError(
                f"generator vocab_size={vocab_g} != discriminator vocab_size={vocab_d}; the "
                "discriminator reads the generator's sampled ids, so both need one vocabulary"
            )
        return []
    names = check_shareable(generator, discriminator)
    g, d = embeddings_module(generator), embeddings_module(discriminator)
    for name in names:
        source = _table(g, name)
        setattr(d, name, source if sharing == "es" else GDESEmbedding(source))
    return names


def unshare(discriminator: PreTrainedModel) -> None:
    """Give the discriminator plain, independent tables: GDES merged (E_G + delta), ES copied.

    Call on a *copy* of the discriminator (see :func:`rtd_pretrain.export_discriminator`).
    """
    d = embeddings_module(discriminator)
    for name in SHARED_TABLES:
        table = getattr(d, name, None)
        if isinstance(table, GDESEmbedding):
            setattr(d, name, table.merged())


def discriminator_table(discriminator: PreTrainedModel, name: str = "word_embeddings"):
    """The discriminator's effective table ``(V, D)`` (merged under GDES), detached."""
    table = getattr(embeddings_module(discriminator), name)
    return table.weight.detach()
