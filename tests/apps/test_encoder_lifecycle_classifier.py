"""The app's classifier: pre-trained weights arrive intact and the head reads the masked mean.

Regression for the fine-tuning gap (README, "What was wrong"): with
``AutoModelForSequenceClassification``'s DeBERTa head (fresh dense → GELU pooler on [CLS])
every pre-trained encoder fine-tuned below the random-init floor, although every weight was
loaded; the app now trains :class:`MeanPoolDebertaClassifier` everywhere.
"""

import torch
from encoder_lifecycle import MeanPoolDebertaClassifier, load_classifier, quick_options
from encoder_lifecycle.finetune import classifier
from encoder_lifecycle.pretrain import encoder_config
from lmlab_common import english_sentences
from lmlab_common.testing import parameters_digest
from rtd_pretrain import RTDModel, corpus_tokenizer, export_discriminator


def _exported(tmp_path):
    texts = list(english_sentences(100))
    tokenizer = corpus_tokenizer(texts, vocab_size=300)
    config = encoder_config(quick_options(hidden_size=32, num_heads=2), tokenizer)
    torch.manual_seed(0)
    model = RTDModel.from_discriminator_config(config, sharing="gdes")
    with torch.no_grad():
        model.gdes_deltas()["word_embeddings"].normal_(0.0, 0.05)
    folder = tmp_path / "pretrained"
    export_discriminator(model, folder, tokenizer)
    return model, folder, tokenizer, config, texts


def test_fine_tuned_classifier_starts_from_every_pretrained_weight(tmp_path):
    model, folder, _tok, config, _texts = _exported(tmp_path)
    clf = classifier(str(folder), config, num_labels=5, seed=0)
    assert isinstance(clf, MeanPoolDebertaClassifier)
    assert parameters_digest(clf.deberta) == parameters_digest(model.plain_discriminator().deberta)
    new = {n for n, _ in clf.named_parameters() if not n.startswith("deberta.")}
    assert new == {"classifier.weight", "classifier.bias"}
    rand = classifier(None, config, num_labels=5, seed=0)
    assert isinstance(rand, MeanPoolDebertaClassifier) and rand.config.num_labels == 5


def test_head_is_linear_on_masked_mean_and_reloads_exactly(tmp_path):
    _model, folder, tokenizer, config, texts = _exported(tmp_path)
    clf = classifier(str(folder), config, num_labels=5, seed=0).eval()
    enc = tokenizer(texts[:4], padding=True, return_tensors="pt")
    ids, mask = enc["input_ids"], enc["attention_mask"]
    assert (mask == 0).any()  # the batch is padded
    with torch.no_grad():
        out = clf(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        hidden = out.hidden_states[-1]
        m = mask[..., None].float()
        by_hand = clf.classifier((hidden * m).sum(1) / m.sum(1))
        alone = clf(input_ids=ids[:1, : int(mask[0].sum())]).logits
    assert len(out.hidden_states) == config.num_hidden_layers + 1  # TED reads them
    assert torch.allclose(out.logits, by_hand, atol=1e-6)
    assert torch.allclose(out.logits[:1], alone, atol=1e-5)  # padding does not count
    labels = torch.tensor([0, 1, 2, 3])
    loss = clf(input_ids=ids, attention_mask=mask, labels=labels).loss
    assert torch.allclose(loss, torch.nn.functional.cross_entropy(out.logits, labels))
    clf.save_pretrained(tmp_path / "clf")
    again = load_classifier(tmp_path / "clf")
    with torch.no_grad():
        assert torch.equal(again(input_ids=ids, attention_mask=mask).logits, out.logits)
