import pytest
import torch
from rtd_pretrain import (
    GDESEmbedding,
    RTDModel,
    build_discriminator,
    build_generator,
    corrupt,
    discriminator_table,
    export_discriminator,
    export_generator,
    generator_config_from,
)
from rtd_pretrain.experiment import discriminator_config
from transformers import AutoModel, AutoModelForMaskedLM, AutoModelForPreTraining


def tiny_config(backend, tokenizer, hidden=16, layers=2):
    return discriminator_config(backend, len(tokenizer), hidden_size=hidden, num_layers=layers)


def make(backend, tokenizer, sharing, seed=0):
    torch.manual_seed(seed)
    cfg = tiny_config(backend, tokenizer)
    return RTDModel.from_discriminator_config(cfg, sharing=sharing)


def word_table(model):
    return model.generator.get_input_embeddings()


def test_generator_config_is_half_depth_same_width(tokenizer):
    cfg = tiny_config("deberta", tokenizer, hidden=16, layers=4)
    gen = generator_config_from(cfg)
    assert gen.num_hidden_layers == 2 and gen.hidden_size == 16
    assert gen.vocab_size == cfg.vocab_size and cfg.num_hidden_layers == 4


def test_gdes_delta_starts_at_zero_and_disc_reads_generator_table(backend, tokenizer):
    model = make(backend, tokenizer, "gdes")
    deltas = model.gdes_deltas()
    assert "word_embeddings" in deltas
    for delta in deltas.values():
        assert torch.count_nonzero(delta) == 0
    d_table = model.discriminator.get_input_embeddings()
    assert isinstance(d_table, GDESEmbedding)
    assert torch.equal(discriminator_table(model.discriminator), word_table(model).weight)


@pytest.mark.parametrize("sharing", ["nes", "es", "gdes"])
def test_rtd_loss_gradient_reaches_generator_embeddings_only_under_es(
    backend, tokenizer, batch, sharing
):
    model = make(backend, tokenizer, sharing).train()
    out = model(**batch)
    assert out.rtd_labels.sum() > 0
    out.rtd_loss.backward()
    e_g = word_table(model).weight
    no_grad = e_g.grad is None or torch.count_nonzero(e_g.grad) == 0
    assert no_grad == (sharing != "es")
    if sharing == "gdes":
        assert torch.count_nonzero(model.gdes_deltas()["word_embeddings"].grad) > 0
    # the discriminator never sends gradient into the generator's body either
    gen_body = [p for n, p in model.generator.named_parameters() if "embeddings" not in n]
    assert all(p.grad is None or torch.count_nonzero(p.grad) == 0 for p in gen_body)


def test_mlm_loss_does_not_touch_the_discriminator(tokenizer, batch):
    model = make("deberta", tokenizer, "nes").train()
    model(**batch).mlm_loss.backward()
    assert all(p.grad is None for p in model.discriminator.parameters())


def test_es_shares_one_module(backend, tokenizer):
    model = make(backend, tokenizer, "es")
    assert model.discriminator.get_input_embeddings() is word_table(model)


def test_labels_count_replaced_only_when_sample_differs():
    original = torch.tensor([[5, 6, 7, 8]])
    labels = torch.tensor([[-100, 6, 7, -100]])
    logits = torch.full((1, 4, 10), -1e4)
    logits[0, 1, 6] = 0.0  # position 1 can only sample the original
    logits[0, 2, 9] = 0.0  # position 2 can only sample 9
    corrupted, rtd_labels = corrupt(original, labels, logits)
    assert corrupted.tolist() == [[5, 6, 9, 8]]
    assert rtd_labels.tolist() == [[0, 0, 1, 0]]


def test_loss_is_mlm_plus_lambda_rtd(tokenizer, batch):
    model = make("deberta", tokenizer, "gdes")
    model.rtd_lambda = 7.0
    out = model(**batch)
    assert torch.allclose(out.loss, out.mlm_loss + 7.0 * out.rtd_loss)


@pytest.mark.parametrize("sharing", ["nes", "es", "gdes"])
def test_save_load_round_trip(tmp_path, backend, tokenizer, batch, sharing):
    model = make(backend, tokenizer, sharing)
    with torch.no_grad():
        for delta in model.gdes_deltas().values():
            delta.normal_()
    model.save_pretrained(tmp_path)
    loaded = RTDModel.from_pretrained(tmp_path).eval()
    model.eval()
    assert loaded.sharing == sharing and loaded.rtd_lambda == model.rtd_lambda
    ids, attn = batch["input_ids"], batch["attention_mask"]
    assert torch.equal(loaded.discriminate(ids, attn), model.discriminate(ids, attn))
    assert torch.equal(
        loaded.generator(input_ids=ids, attention_mask=attn).logits,
        model.generator(input_ids=ids, attention_mask=attn).logits,
    )
    if sharing == "es":
        assert loaded.discriminator.get_input_embeddings() is word_table(loaded)


@pytest.mark.parametrize("sharing", ["es", "gdes"])
def test_export_gives_identical_outputs(tmp_path, backend, tokenizer, batch, sharing):
    model = make(backend, tokenizer, sharing).eval()
    with torch.no_grad():
        for delta in model.gdes_deltas().values():
            delta.normal_(std=0.1)
    ids, attn = batch["input_ids"], batch["attention_mask"]
    expected = model.discriminate(ids, attn)
    export_discriminator(model, tmp_path / "d", tokenizer)
    export_generator(model, tmp_path / "g", tokenizer)
    if backend == "deberta":
        from rtd_pretrain import DebertaV2ForReplacedTokenDetection

        full = DebertaV2ForReplacedTokenDetection.from_pretrained(tmp_path / "d").eval()
        body = model.discriminator.deberta
    else:
        full = AutoModelForPreTraining.from_pretrained(tmp_path / "d").eval()
        body = model.discriminator.electra
    assert torch.equal(full(input_ids=ids, attention_mask=attn).logits, expected)
    plain = AutoModel.from_pretrained(tmp_path / "d").eval()
    assert isinstance(plain.get_input_embeddings(), torch.nn.Embedding)
    assert torch.equal(
        plain(input_ids=ids, attention_mask=attn).last_hidden_state,
        body(input_ids=ids, attention_mask=attn).last_hidden_state,
    )
    gen = AutoModelForMaskedLM.from_pretrained(tmp_path / "g").eval()
    assert torch.equal(
        gen(input_ids=ids, attention_mask=attn).logits,
        model.generator(input_ids=ids, attention_mask=attn).logits,
    )


def test_sharing_needs_equal_vocab_and_width(tokenizer):
    cfg = tiny_config("deberta", tokenizer, hidden=16)
    disc = build_discriminator(cfg)
    wider = tiny_config("deberta", tokenizer, hidden=32)
    with pytest.raises(ValueError, match="embedding width"):
        RTDModel(build_generator(wider), disc, "gdes")
    other_vocab = tiny_config("deberta", tokenizer, hidden=16)
    other_vocab.vocab_size = cfg.vocab_size + 3
    with pytest.raises(ValueError, match="vocabulary"):
        RTDModel(build_generator(other_vocab), build_discriminator(cfg), "es")
    with pytest.raises(ValueError, match="vocab_size"):
        RTDModel(build_generator(other_vocab), build_discriminator(cfg), "nes")
    # NES allows a different width
    RTDModel(build_generator(wider), build_discriminator(cfg), "nes")


def test_bad_lambda_and_mode(tokenizer):
    cfg = tiny_config("deberta", tokenizer)
    with pytest.raises(ValueError, match="rtd_lambda"):
        RTDModel.from_discriminator_config(cfg, rtd_lambda=0.0)
    with pytest.raises(ValueError, match="sharing"):
        RTDModel.from_discriminator_config(cfg, sharing="tied")
