"""The DeBERTaV3 RTD head and a DeBERTa-v2 discriminator class (transformers has neither)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import DebertaV2Model, DebertaV2PreTrainedModel
from transformers.activations import ACT2FN
from transformers.utils import ModelOutput


class DebertaRTDHead(nn.Module):
    """``LayerNorm(h_CLS + h_i) → Linear(h, h) → act → Linear(h, 1)`` (official DeBERTaV3).

    ``forward(hidden: (B, T, H)) -> logits (B, T)``; position 0 is taken as [CLS].
    """

    def __init__(self, config) -> None:
        super().__init__()
        hidden = config.hidden_size
        self.layer_norm = nn.LayerNorm(hidden, eps=getattr(config, "layer_norm_eps", 1e-7))
        self.dense = nn.Linear(hidden, hidden)
        self.activation = ACT2FN[config.hidden_act]
        self.classifier = nn.Linear(hidden, 1)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        ctx = hidden_states[:, :1, :]  # (B, 1, H): the [CLS] state, added to every position
        x = self.layer_norm(ctx + hidden_states)
        x = self.activation(self.dense(x))
        return self.classifier(x).squeeze(-1)


@dataclass
class RTDDiscriminatorOutput(ModelOutput):
    """``logits`` (B, T): replaced-token scores; ``loss``: masked BCE when labels are given."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None


def rtd_bce(
    logits: torch.Tensor, labels: torch.Tensor, attention_mask: torch.Tensor | None
) -> torch.Tensor:
    """Mean BCE over non-padding tokens (official ``d_loss_fn``: mean over ``input_mask > 0``)."""
    losses = nn.functional.binary_cross_entropy_with_logits(
        logits.float(), labels.float(), reduction="none"
    )
    if attention_mask is None:
        return losses.mean()
    keep = attention_mask > 0
    return losses[keep].mean()


class DebertaV2ForReplacedTokenDetection(DebertaV2PreTrainedModel):
    """A DeBERTa-v2/v3 encoder with the DeBERTaV3 RTD head.

    Its checkpoint is a standard DeBERTa-v2 folder: ``AutoModel.from_pretrained`` loads the
    encoder (ignoring ``rtd_head.*``); this class loads encoder and head.
    """

    _keys_to_ignore_on_load_unexpected = [r"position_embeddings", r"lm_predictions.*", r"cls.*"]

    def __init__(self, config) -> None:
        super().__init__(config)
        self.deberta = DebertaV2Model(config)
        self.rtd_head = DebertaRTDHead(config)
        self.post_init()

    def get_input_embeddings(self):
        return self.deberta.embeddings.word_embeddings

    def set_input_embeddings(self, new_embeddings) -> None:
        self.deberta.embeddings.word_embeddings = new_embeddings

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        **kwargs,
    ) -> RTDDiscriminatorOutput:
        out = self.deberta(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        logits = self.rtd_head(out.last_hidden_state)
        loss = rtd_bce(logits, labels, attention_mask) if labels is not None else None
        return RTDDiscriminatorOutput(loss=loss, logits=logits, hidden_states=out.hidden_states)
