"""``RTDModel``: generator + discriminator + embedding sharing, and the exact RTD objective."""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass

import torch
from lmlab_common import atomic_write_json, load_tensors, require, require_choice, save_tensors
from torch import nn
from transformers import (
    AutoConfig,
    DebertaV2Config,
    DebertaV2ForMaskedLM,
    ElectraConfig,
    ElectraForMaskedLM,
    ElectraForPreTraining,
    PretrainedConfig,
    PreTrainedModel,
)
from transformers.utils import ModelOutput

from .config import SHARING_MODES
from .data import mask_tokens
from .heads import DebertaV2ForReplacedTokenDetection, rtd_bce
from .sharing import GDESEmbedding, apply_sharing, embeddings_module, unshare

BACKENDS = ("deberta", "electra")
RTD_CONFIG_FILE = "rtd_config.json"
WEIGHTS_FILE = "rtd_model.safetensors"


def backend_of(config: PretrainedConfig) -> str:
    """``"deberta"`` for DeBERTa-v2/v3 configs, ``"electra"`` for ELECTRA configs."""
    kinds = {"deberta-v2": "deberta", "electra": "electra"}
    require(
        config.model_type in kinds, "config.model_type", config.model_type, "deberta-v2, electra"
    )
    return kinds[config.model_type]


def generator_config_from(config: PretrainedConfig, depth_ratio: float = 0.5) -> PretrainedConfig:
    """Same width and vocabulary, ``round(depth_ratio · layers)`` layers (at least 1)."""
    require(0.0 < depth_ratio <= 1.0, "generator_depth_ratio", depth_ratio, "a number in (0, 1]")
    gen = copy.deepcopy(config)
    gen.num_hidden_layers = max(1, round(config.num_hidden_layers * depth_ratio))
    return gen


def build_generator(config: PretrainedConfig) -> PreTrainedModel:
    cls = DebertaV2ForMaskedLM if backend_of(config) == "deberta" else ElectraForMaskedLM
    return cls(config)


def build_discriminator(config: PretrainedConfig) -> PreTrainedModel:
    if backend_of(config) == "deberta":
        return DebertaV2ForReplacedTokenDetection(config)
    return ElectraForPreTraining(config)


@dataclass
class RTDOutput(ModelOutput):
    """One RTD step. ``loss = mlm_loss + λ·rtd_loss``; tensors are (B, T) unless noted.

    ``rtd_logits``: discriminator scores; ``rtd_labels``: 1 where the sampled token differs
    from the original; ``corrupted_ids``: the discriminator's input; ``mlm_logits`` (B, T, V).
    """

    loss: torch.Tensor | None = None
    mlm_loss: torch.Tensor | None = None
    rtd_loss: torch.Tensor | None = None
    mlm_logits: torch.Tensor | None = None
    rtd_logits: torch.Tensor | None = None
    rtd_labels: torch.Tensor | None = None
    corrupted_ids: torch.Tensor | None = None


def sample_replacements(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Ancestral samples ``(N,)`` from ``softmax(logits / τ)`` for logits ``(N, V)``, detached
    (the official ``torch.multinomial`` sampler; not argmax)."""
    probs = torch.softmax(logits.detach().float() / temperature, dim=-1)
    return torch.multinomial(probs, 1).squeeze(-1)


def corrupt(
    original_ids: torch.Tensor,
    labels: torch.Tensor,
    mlm_logits: torch.Tensor,
    temperature: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Replace masked positions (``labels != -100``) by generator samples.

    Returns ``(corrupted_ids, rtd_labels)`` (B, T): a token counts as replaced only where the
    sample differs from the original.
    """
    masked = labels != -100
    corrupted = original_ids.clone()
    if masked.any():
        corrupted[masked] = sample_replacements(mlm_logits[masked], temperature)
    rtd_labels = (masked & (corrupted != original_ids)).long()
    return corrupted, rtd_labels


class RTDModel(nn.Module):
    """A generator (MLM) and a discriminator (RTD) trained together.

    ``forward(input_ids, attention_mask, labels)``: ``input_ids`` is the *masked* generator
    input and ``labels`` the original ids at masked positions (-100 elsewhere), as
    :class:`rtd_pretrain.RTDCollator` makes them. Or ``forward(input_ids, attention_mask,
    special_tokens_mask=...)`` with unmasked ids: the model masks them itself with
    ``mask_token_id`` / ``mask_prob`` / ``masking_style``. Returns :class:`RTDOutput`.
    """

    def __init__(
        self,
        generator: PreTrainedModel,
        discriminator: PreTrainedModel,
        sharing: str = "gdes",
        rtd_lambda: float = 50.0,
        temperature: float = 1.0,
        mask_token_id: int | None = None,
        mask_prob: float = 0.15,
        masking_style: str = "deberta",
    ) -> None:
        super().__init__()
        require_choice("sharing", sharing, SHARING_MODES)
        require(rtd_lambda > 0, "rtd_lambda", rtd_lambda, "a number > 0")
        require(temperature > 0, "temperature", temperature, "a number > 0")
        backend = backend_of(discriminator.config)
        require(
            backend_of(generator.config) == backend,
            "generator",
            type(generator).__name__,
            f"a {backend} generator like the discriminator",
        )
        self.generator = generator
        self.discriminator = discriminator
        self.sharing = sharing
        self.rtd_lambda = float(rtd_lambda)
        self.temperature = float(temperature)
        self.backend = backend
        self.mask_token_id = mask_token_id
        self.mask_prob = float(mask_prob)
        self.masking_style = masking_style
        self.shared_tables = apply_sharing(generator, discriminator, sharing)

    @classmethod
    def from_discriminator_config(
        cls,
        config: PretrainedConfig,
        sharing: str = "gdes",
        generator_config: PretrainedConfig | None = None,
        depth_ratio: float = 0.5,
        **kwargs,
    ) -> RTDModel:
        """Build both models from configs (the generator from the discriminator's by default)."""
        gen_config = generator_config or generator_config_from(config, depth_ratio)
        return cls(build_generator(gen_config), build_discriminator(config), sharing, **kwargs)

    @property
    def config(self) -> PretrainedConfig:
        return self.discriminator.config

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        special_tokens_mask: torch.Tensor | None = None,
        **kwargs,
    ) -> RTDOutput:
        if labels is None:
            input_ids, labels = self.mask(input_ids, special_tokens_mask)
        extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        gen = self.generator(input_ids=input_ids, attention_mask=attention_mask, **extra)
        mlm_logits = gen.logits  # (B, T, V)
        masked = labels != -100
        mlm_loss = nn.functional.cross_entropy(mlm_logits[masked].float(), labels[masked])
        original = torch.where(masked, labels, input_ids)
        with torch.no_grad():
            corrupted, rtd_labels = corrupt(original, labels, mlm_logits, self.temperature)
        disc = self.discriminator(input_ids=corrupted, attention_mask=attention_mask, **extra)
        rtd_loss = rtd_bce(disc.logits, rtd_labels, attention_mask)
        return RTDOutput(
            loss=mlm_loss + self.rtd_lambda * rtd_loss,
            mlm_loss=mlm_loss,
            rtd_loss=rtd_loss,
            mlm_logits=mlm_logits,
            rtd_logits=disc.logits,
            rtd_labels=rtd_labels,
            corrupted_ids=corrupted,
        )

    def mask(
        self, input_ids: torch.Tensor, special_tokens_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mask unmasked ``input_ids`` (B, T) → ``(masked_ids, labels)``."""
        if special_tokens_mask is None or self.mask_token_id is None:
            raise ValueError(
                "RTDModel needs either 'labels' (original ids at masked positions, -100 "
                "elsewhere) or 'special_tokens_mask' plus model.mask_token_id to mask itself; "
                "use RTDCollator / RTDTrainer to make batches"
            )
        candidates = ~special_tokens_mask.bool()
        return mask_tokens(input_ids, candidates, self.mask_token_id, self.mask_prob,
                           self.masking_style)  # fmt: skip

    def discriminate(self, input_ids, attention_mask=None) -> torch.Tensor:
        """Discriminator logits (B, T) for given (already corrupted) ids."""
        return self.discriminator(input_ids=input_ids, attention_mask=attention_mask).logits

    def gdes_deltas(self) -> dict[str, torch.Tensor]:
        """The E_delta parameters (empty unless ``sharing == 'gdes'``)."""
        block = embeddings_module(self.discriminator)
        return {n: getattr(block, n).delta for n in self.shared_tables
                if isinstance(getattr(block, n), GDESEmbedding)}  # fmt: skip

    # -- save / load -------------------------------------------------------------------------

    def rtd_settings(self) -> dict:
        return {
            "sharing": self.sharing,
            "rtd_lambda": self.rtd_lambda,
            "temperature": self.temperature,
            "backend": self.backend,
            "mask_token_id": self.mask_token_id,
            "mask_prob": self.mask_prob,
            "masking_style": self.masking_style,
        }

    def _unique_state(self) -> dict[str, torch.Tensor]:
        """State without aliases: tied weights and ES-shared tables appear once (first name,
        i.e. under ``generator.``)."""
        seen: set[tuple[int, tuple[int, ...]]] = set()
        out = {}
        for name, tensor in self.state_dict().items():
            key = (tensor.data_ptr(), tuple(tensor.shape))
            if key in seen:
                continue
            seen.add(key)
            out[name] = tensor.detach()
        return out

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        """Configs, settings and every weight (incl. E_delta) → ``directory``."""
        os.makedirs(directory, exist_ok=True)
        atomic_write_json(
            os.path.join(directory, RTD_CONFIG_FILE),
            {
                **self.rtd_settings(),
                "generator_config": self.generator.config.to_dict(),
                "discriminator_config": self.discriminator.config.to_dict(),
            },
        )
        save_tensors(self._unique_state(), os.path.join(directory, WEIGHTS_FILE))

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> RTDModel:
        """Rebuild from :meth:`save_pretrained` output; nothing needs re-specifying."""
        path = os.path.join(directory, RTD_CONFIG_FILE)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path} not found; allowed: a folder written by "
                                    "RTDModel.save_pretrained or RTDTrainer")  # fmt: skip
        with open(path, encoding="utf-8") as fh:
            saved = json.load(fh)
        configs = [
            _config_from_dict(saved[k]) for k in ("generator_config", "discriminator_config")
        ]
        model = cls(
            build_generator(configs[0]),
            build_discriminator(configs[1]),
            saved["sharing"],
            rtd_lambda=saved["rtd_lambda"],
            temperature=saved["temperature"],
            mask_token_id=saved.get("mask_token_id"),
            mask_prob=saved.get("mask_prob", 0.15),
            masking_style=saved.get("masking_style", "deberta"),
        )
        model.load_weights(directory)
        return model

    def load_weights(self, directory: str | os.PathLike) -> None:
        state = load_tensors(os.path.join(directory, WEIGHTS_FILE))
        missing, unexpected = self.load_state_dict(state, strict=False)
        aliases = set(self.state_dict()) - set(self._unique_state())
        missing = [k for k in missing if k not in aliases]
        if missing or unexpected:
            raise ValueError(
                f"checkpoint {directory} does not match this RTDModel: missing {missing[:5]}, "
                f"unexpected {list(unexpected)[:5]}"
            )

    def plain_discriminator(self) -> PreTrainedModel:
        """A copy of the discriminator with its own merged tables (E_G + E_delta under GDES)."""
        disc = copy.deepcopy(self.discriminator)
        unshare(disc)
        return disc


def _config_from_dict(data: dict) -> PretrainedConfig:
    kinds = {"deberta-v2": DebertaV2Config, "electra": ElectraConfig}
    model_type = data.get("model_type")
    if model_type in kinds:
        return kinds[model_type].from_dict(data)
    return AutoConfig.for_model(**data)


def export_discriminator(
    model: RTDModel, directory: str | os.PathLike, tokenizer=None
) -> PreTrainedModel:
    """Save the discriminator as a plain transformers model (embeddings merged).

    DeBERTa: a DeBERTa-v2 folder (``AutoModel`` loads the encoder, and
    :class:`DebertaV2ForReplacedTokenDetection` loads encoder + RTD head). ELECTRA: an
    ``ElectraForPreTraining`` folder. Returns the exported model.
    """
    disc = model.plain_discriminator()
    disc.save_pretrained(directory)
    if tokenizer is not None:
        tokenizer.save_pretrained(directory)
    return disc


def export_generator(
    model: RTDModel, directory: str | os.PathLike, tokenizer=None
) -> PreTrainedModel:
    """Save the generator (always a plain MLM model) with ``save_pretrained``."""
    model.generator.save_pretrained(directory)
    if tokenizer is not None:
        tokenizer.save_pretrained(directory)
    return model.generator
