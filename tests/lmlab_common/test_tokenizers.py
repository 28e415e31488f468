import pytest
from lmlab_common import english_sentences, train_tokenizer


@pytest.fixture(scope="module")
def texts():
    return list(english_sentences(300, seed=0))


def test_wordlevel_encoder_style(texts):
    tok = train_tokenizer(texts, kind="wordlevel", vocab_size=500)
    ids = tok("The value of the object")["input_ids"]
    assert ids[0] == tok.cls_token_id == 2 and ids[-1] == tok.sep_token_id == 3
    assert tok.pad_token_id == 0 and tok.unk_token_id == 1 and tok.mask_token_id == 4
    assert tok.bos_token == "[CLS]" and tok.eos_token == "[SEP]"
    assert len(tok) <= 500
    assert tok.convert_ids_to_tokens(tok("zzqqxx")["input_ids"])[1] == "[UNK]"
    batch = tok(["a b", "a b c d"], padding=True, return_tensors="pt")
    assert batch["input_ids"].shape == (2, 6) and batch["attention_mask"][0, -1] == 0


def test_bpe_causal_style_round_trips(texts):
    tok = train_tokenizer(texts, kind="bpe", vocab_size=400, wrap=None)
    text = "Numeric objects are immutable; zzqqxx!"
    ids = tok(text)["input_ids"]
    assert tok.unk_token_id not in ids and ids[0] not in (2, 3)
    assert tok.decode(ids) == text


def test_save_and_reload(tmp_path, texts):
    from transformers import AutoTokenizer

    tok = train_tokenizer(texts, vocab_size=300)
    tok.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    assert again("a class")["input_ids"] == tok("a class")["input_ids"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "unigram"}, "kind='unigram'"),
        ({"vocab_size": 3}, "vocab_size=3"),
        ({"wrap": "bos"}, "wrap='bos'"),
    ],
)
def test_bad_arguments(kwargs, message, texts):
    with pytest.raises(ValueError, match=message):
        train_tokenizer(texts, **kwargs)
    with pytest.raises(ValueError, match="texts"):
        train_tokenizer([])
