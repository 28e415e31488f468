"""The downstream fine-tune gets the pre-trained weights, and its head reads the masked mean.

Regression for the English arms of ``reproduce``: fine-tuned through
``AutoModelForSequenceClassification`` (DeBERTa's fresh dense → GELU pooler on [CLS]) every
pre-trained encoder ended far below a randomly initialised one (MLM 29.2 % vs 59.2 %); the
weights were loaded correctly, the head was the cause (README, "What was wrong").
"""

import torch
from lmlab_common.testing import parameters_digest
from rtd_pretrain import RTDModel, export_discriminator
from rtd_pretrain.downstream import MeanPoolClassifier
from rtd_pretrain.experiment import discriminator_config
from transformers import AutoModel


def _gdes_model(vocab_size):
    torch.manual_seed(0)
    config = discriminator_config("deberta", vocab_size, hidden_size=32, num_layers=2)
    model = RTDModel.from_discriminator_config(config, sharing="gdes")
    with torch.no_grad():  # a trained-looking E_delta, so the merge matters
        model.gdes_deltas()["word_embeddings"].normal_(0.0, 0.05)
    return model


def test_fine_tune_encoder_receives_every_exported_weight(tmp_path, tokenizer):
    model = _gdes_model(len(tokenizer))
    export_discriminator(model, tmp_path, tokenizer)
    head = MeanPoolClassifier(AutoModel.from_pretrained(tmp_path), num_labels=3)
    expected = model.plain_discriminator().deberta
    assert parameters_digest(head.encoder) == parameters_digest(expected)
    merged = expected.embeddings.word_embeddings.weight
    generator_only = model.generator.deberta.embeddings.word_embeddings.weight
    assert not torch.allclose(merged, generator_only)  # E_G + E_delta, not E_G alone


def test_head_is_one_linear_layer_on_the_masked_mean(tmp_path, tokenizer, rows):
    export_discriminator(_gdes_model(len(tokenizer)), tmp_path, tokenizer)
    torch.manual_seed(1)
    clf = MeanPoolClassifier(AutoModel.from_pretrained(tmp_path), num_labels=3).eval()
    ids = torch.tensor([rows[0]["input_ids"]])
    pad = torch.full((1, 5), tokenizer.pad_token_id)
    padded = torch.cat([ids, pad], dim=1)
    mask = torch.cat([torch.ones_like(ids), torch.zeros_like(pad)], dim=1)
    with torch.no_grad():
        logits = clf(ids, torch.ones_like(ids))
        hidden = clf.encoder(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state
        by_hand = clf.classifier(hidden.mean(1))
        logits_padded = clf(padded, mask)
    assert torch.allclose(logits, by_hand, atol=1e-6)
    assert torch.allclose(logits, logits_padded, atol=1e-5)  # padding does not count
    assert [type(m).__name__ for m in clf.children()] == [type(clf.encoder).__name__, "Linear"]
