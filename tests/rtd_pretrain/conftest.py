import pytest
import torch
from rtd_pretrain import SynonymCorpus, corpus_tokenizer, sentence_rows

CORPUS = SynonymCorpus(n_clusters=8, cluster_size=4, n_registers=2, min_len=8, max_len=12)


@pytest.fixture(scope="session")
def corpus():
    return CORPUS


@pytest.fixture(scope="session")
def tokenizer():
    return corpus_tokenizer(CORPUS.words, vocab_size=100)


@pytest.fixture
def rows(tokenizer):
    return sentence_rows(CORPUS.sentences(64), tokenizer)


@pytest.fixture(params=["deberta", "electra"])
def backend(request):
    return request.param


@pytest.fixture
def batch(tokenizer, rows):
    from rtd_pretrain import RTDCollator

    gen = torch.Generator().manual_seed(0)
    return RTDCollator(tokenizer, generator=gen)([rows[i] for i in range(8)])
