"""``GrillModel``: ViT patches projected into a BART encoder–decoder, plus the phrase–region
alignment head that grounds a phrase by scoring every patch against it."""

from __future__ import annotations

import dataclasses

import torch
from lmlab_common import mean_pool
from torch import nn
from torch.nn import functional as F
from transformers import (
    BartConfig,
    BartForConditionalGeneration,
    PreTrainedModel,
    ViTConfig,
    ViTModel,
)
from transformers.modeling_outputs import BaseModelOutput
from transformers.utils import ModelOutput

from .config import OBJECTIVES, GrillConfig


@dataclasses.dataclass
class GrillOutput(ModelOutput):
    """``loss`` plus each objective's mean loss (None when it did not run this batch)."""

    loss: torch.Tensor | None = None
    caption_loss: torch.Tensor | None = None
    span_loss: torch.Tensor | None = None
    vqa_loss: torch.Tensor | None = None
    align_tokens_loss: torch.Tensor | None = None
    align_contrastive_loss: torch.Tensor | None = None


class GrillModel(PreTrainedModel):
    """Encoder input = [projected patch states (P) ; text embeddings (T)]; the decoder writes
    captions, answers and location words. ``align_scores`` grounds phrases on patches."""

    config_class = GrillConfig
    base_model_prefix = "grill"
    main_input_name = "pixel_values"
    _no_split_modules: list[str] = []

    def __init__(self, config: GrillConfig):
        super().__init__(config)
        vision_width = config.vision_config.hidden_size
        text_width = config.text_config.d_model
        self.vision = ViTModel(config.vision_config, add_pooling_layer=False)
        self.visual_proj = nn.Linear(vision_width, text_width)
        self.lm = BartForConditionalGeneration(config.text_config)
        self.region_proj = nn.Linear(vision_width, config.align_dim)
        self.phrase_proj = nn.Linear(text_width, config.align_dim)
        # log of the cosine scale for the per-cell extent loss (learned; starts at 1/0.1)
        self.extent_scale = nn.Parameter(torch.tensor(-2.3))
        self.post_init()

    @classmethod
    def from_processor(
        cls,
        processor,
        hidden_size: int = 96,
        num_layers: int = 2,
        num_heads: int = 4,
        align_dim: int = 64,
        seed: int | None = None,
    ) -> GrillModel:
        """A fresh model sized for ``processor`` (its vocabulary, image size and grid): a ViT
        with ``num_layers`` layers and a BART with ``num_layers`` + ``num_layers``."""
        if seed is not None:
            torch.manual_seed(seed)
        tok = processor.tokenizer
        patch = processor.image_size // processor.grid
        vision = ViTConfig(
            image_size=processor.image_size,
            patch_size=patch,
            hidden_size=hidden_size,
            num_hidden_layers=num_layers,
            num_attention_heads=num_heads,
            intermediate_size=2 * hidden_size,
        )
        text = BartConfig(
            vocab_size=len(tok),
            d_model=hidden_size,
            encoder_layers=num_layers,
            decoder_layers=num_layers,
            encoder_attention_heads=num_heads,
            decoder_attention_heads=num_heads,
            encoder_ffn_dim=2 * hidden_size,
            decoder_ffn_dim=2 * hidden_size,
            max_position_embeddings=processor.grid**2 + processor.max_text_length + 8,
            pad_token_id=tok.pad_token_id,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
            decoder_start_token_id=tok.eos_token_id,
            forced_eos_token_id=tok.eos_token_id,
        )
        config = GrillConfig(
            vision.to_dict(), text.to_dict(), grid_size=processor.grid, align_dim=align_dim
        )
        return cls(config)

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)

    # --- building blocks ------------------------------------------------------------------

    def patch_states(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) → (B, P, D_v) ViT patch states (the CLS state is dropped)."""
        return self.vision(pixel_values=pixel_values).last_hidden_state[:, 1:]

    def encode(
        self, patches: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[BaseModelOutput, torch.Tensor]:
        """Run the text encoder over [patches ; text]. patches (R, P, D_v), ids (R, T) →
        (encoder output with (R, P+T, D) states, (R, P+T) attention mask)."""
        visual = self.visual_proj(patches)
        text = self.lm.model.encoder.embed_tokens(input_ids)
        mask = torch.cat([attention_mask.new_ones(visual.shape[:2]), attention_mask], dim=1)
        out = self.lm.model.encoder(inputs_embeds=torch.cat([visual, text], 1), attention_mask=mask)
        return out, mask

    def align_scores(
        self, patches: torch.Tensor, phrase_ids: torch.Tensor, phrase_mask: torch.Tensor
    ) -> torch.Tensor:
        """Phrase–patch similarity (A, P) / τ between (A, P, D_v) patch states and the
        mean-pooled text-encoder states of (A, T) phrases (cosine, both projected)."""
        states = self.lm.model.encoder(input_ids=phrase_ids, attention_mask=phrase_mask)
        phrase = F.normalize(
            self.phrase_proj(mean_pool(states.last_hidden_state, phrase_mask)), dim=-1
        )
        regions = F.normalize(self.region_proj(patches), dim=-1)
        return torch.einsum("apd,ad->ap", regions, phrase) / self.config.align_temperature

    # --- training forward -----------------------------------------------------------------

    def forward(
        self,
        pixel_values: torch.Tensor,
        text_image: torch.Tensor | None = None,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        text_kind: torch.Tensor | None = None,
        align_image: torch.Tensor | None = None,
        phrase_ids: torch.Tensor | None = None,
        phrase_mask: torch.Tensor | None = None,
        target_cells: torch.Tensor | None = None,
        align_weight: float = 1.0,
        extent_weight: float = 1.0,
        **_: object,
    ) -> GrillOutput:
        """Multi-task loss for one batch of images (B, 3, S, S).

        Text rows: ``text_image`` (R,) image index, ``input_ids``/``attention_mask`` (R, T),
        ``labels`` (R, T') with -100 padding, ``text_kind`` (R,) index into ``OBJECTIVES``.
        Alignment rows: ``align_image`` (A,), ``phrase_ids``/``phrase_mask`` (A, T''),
        ``target_cells`` (A, P) bool — the loss is −log of the softmax mass on the target cells
        plus ``extent_weight`` × a per-cell binary loss (inside the box vs outside).
        """
        patches = self.patch_states(pixel_values)
        out = GrillOutput()
        total = patches.new_zeros(())
        if input_ids is not None and input_ids.numel():
            enc, mask = self.encode(patches[text_image], input_ids, attention_mask)
            logits = self.lm(encoder_outputs=enc, attention_mask=mask, labels=labels).logits
            token_loss = F.cross_entropy(logits.transpose(1, 2), labels, reduction="none")
            row_loss = token_loss.sum(1) / (labels != -100).sum(1).clamp_min(1)
            total = total + row_loss.mean()
            for index, kind in enumerate(OBJECTIVES):
                rows = text_kind == index
                if rows.any():
                    setattr(out, f"{kind}_loss", row_loss[rows].mean().detach())
        if phrase_ids is not None and phrase_ids.numel():
            scores = self.align_scores(patches[align_image], phrase_ids, phrase_mask)
            log_probs = scores.log_softmax(-1)
            on_target = log_probs.masked_fill(~target_cells.bool(), float("-inf"))
            align = -torch.logsumexp(on_target, dim=-1).mean()
            if extent_weight:
                # Every cell inside the box is positive, every other negative: the InfoNCE term
                # alone is satisfied by one hot cell, which decodes to a box too small.
                extent = F.binary_cross_entropy_with_logits(
                    scores * self.config.align_temperature / self.extent_scale.exp(),
                    target_cells.float(),
                )
                align = align + extent_weight * extent
            out.align_contrastive_loss = align.detach()
            total = total + align_weight * align
        out.loss = total
        return out

    # --- inference ------------------------------------------------------------------------

    @torch.no_grad()
    def generate_text(
        self,
        pixel_values: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        max_new_tokens: int = 16,
    ) -> torch.Tensor:
        """Greedy decoding for (B, 3, S, S) images and (B, T) prompts → (B, T') ids."""
        enc, mask = self.encode(self.patch_states(pixel_values), input_ids, attention_mask)
        return self.lm.generate(
            encoder_outputs=enc,
            attention_mask=mask,
            do_sample=False,
            num_beams=1,
            max_new_tokens=max_new_tokens,
        )
