"""The sequence classifier every stage trains: a DeBERTa-v2 encoder with one linear layer on
the mean of its last hidden states over the non-padding tokens.

Why not ``AutoModelForSequenceClassification``: its DeBERTa head is a freshly initialised
``dense → GELU`` pooler on the [CLS] state, then dropout and a linear layer. With that head
every pre-trained encoder of this app fine-tuned far below a randomly initialised one (RTD
23.7 %, MLM 35.8 %, random 37.8 % at the defaults), and the same held in rtd-pretrain's
English arms, where an MLM encoder fine-tuned to 29.2 % (66 % *training* accuracy) against
59.2 % from random init. With a single linear layer on the mean-pooled states the same MLM
encoder reached 61.9 % vs 64.2 % (single linear layer on [CLS]: 53.5 %; the GELU pooler on
the mean: 35.4 %), so the two-layer head, not the pre-trained weights, made the gap.
"""

from __future__ import annotations

import torch
from lmlab_common import mean_pool
from torch import nn
from transformers import DebertaV2Model, DebertaV2PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput


class MeanPoolDebertaClassifier(DebertaV2PreTrainedModel):
    """DeBERTa-v2 encoder → masked mean of the last hidden states → dropout → linear.

    Loads any DeBERTa-v2 folder (``from_pretrained(folder, num_labels=...)``: the encoder
    weights are used, the classifier is new) and saves a folder this class reloads exactly.
    ``forward`` takes the usual arguments and returns ``SequenceClassifierOutput`` (with
    ``hidden_states`` when asked, as task-distill's TED needs).
    """

    def __init__(self, config) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.deberta = DebertaV2Model(config)
        drop = getattr(config, "cls_dropout", None)
        self.dropout = nn.Dropout(config.hidden_dropout_prob if drop is None else drop)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def get_input_embeddings(self):
        return self.deberta.get_input_embeddings()

    def set_input_embeddings(self, new_embeddings) -> None:
        self.deberta.set_input_embeddings(new_embeddings)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> SequenceClassifierOutput:
        out = self.deberta(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        hidden = out.last_hidden_state
        pooled = hidden.mean(1) if attention_mask is None else mean_pool(hidden, attention_mask)
        logits = self.classifier(self.dropout(pooled))
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.float(), labels.view(-1).long())
        return SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=out.hidden_states, attentions=out.attentions
        )
