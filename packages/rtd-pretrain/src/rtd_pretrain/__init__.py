"""rtd-pretrain: DeBERTaV3 replaced-token-detection pre-training with NES / ES / GDES sharing.

:class:`RTDModel` pairs an MLM generator with an RTD discriminator (DeBERTa-v2/v3 with the
DeBERTaV3 head, or ELECTRA) and wires their embeddings by ``sharing``; :class:`RTDTrainer`
trains it as a ``transformers.Trainer`` with an :class:`RTDConfig`; ``export_discriminator``
writes a plain transformers model with the GDES embeddings merged.
"""

from .config import MASKING_STYLES, SHARING_MODES, RTDConfig
from .data import (
    RTDCollator,
    build_blocks,
    check_tokenizer,
    corpus_tokenizer,
    mask_tokens,
    read_corpus,
    sentence_rows,
)
from .heads import DebertaRTDHead, DebertaV2ForReplacedTokenDetection, rtd_bce
from .metrics import EmbeddingStats, embedding_stats, roc_auc, rtd_metrics
from .model import (
    BACKENDS,
    RTDModel,
    RTDOutput,
    build_discriminator,
    build_generator,
    corrupt,
    export_discriminator,
    export_generator,
    generator_config_from,
    sample_replacements,
)
from .sharing import GDESEmbedding, apply_sharing, discriminator_table
from .synthetic import SynonymCorpus
from .trainer import RTDTrainer, build_rtd_model

__version__: str = "0.1.0"

__all__: list[str] = [
    "BACKENDS",
    "MASKING_STYLES",
    "SHARING_MODES",
    "DebertaRTDHead",
    "DebertaV2ForReplacedTokenDetection",
    "EmbeddingStats",
    "GDESEmbedding",
    "RTDCollator",
    "RTDConfig",
    "RTDModel",
    "RTDOutput",
    "RTDTrainer",
    "SynonymCorpus",
    "apply_sharing",
    "build_blocks",
    "build_discriminator",
    "build_generator",
    "build_rtd_model",
    "check_tokenizer",
    "corpus_tokenizer",
    "corrupt",
    "discriminator_table",
    "embedding_stats",
    "export_discriminator",
    "export_generator",
    "generator_config_from",
    "mask_tokens",
    "read_corpus",
    "roc_auc",
    "rtd_bce",
    "rtd_metrics",
    "sample_replacements",
    "sentence_rows",
]
