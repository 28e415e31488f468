import pytest
import torch
from rtd_pretrain import (
    RTDCollator,
    RTDConfig,
    build_blocks,
    mask_tokens,
    read_corpus,
    roc_auc,
    rtd_metrics,
)
from transformers import PreTrainedTokenizerFast


def test_mask_tokens_counts_and_specials(tokenizer, rows):
    collate = RTDCollator(tokenizer, generator=torch.Generator().manual_seed(0))
    batch = collate([rows[i] for i in range(16)])
    selected = batch["labels"] != -100
    specials = torch.tensor(sorted(set(tokenizer.all_special_ids)))
    original = torch.where(selected, batch["labels"], batch["input_ids"])
    assert not torch.isin(original[selected], specials).any()
    n_real = ((batch["attention_mask"] > 0) & ~torch.isin(original, specials)).sum(1)
    assert torch.equal(selected.sum(1), torch.clamp(torch.round(n_real * 0.15).long(), min=1))
    # deberta style: every selected position is [MASK]
    assert (batch["input_ids"][selected] == tokenizer.mask_token_id).all()
    assert (batch["input_ids"][~selected] == original[~selected]).all()


def test_electra_style_keeps_some_originals():
    ids = torch.arange(5, 1005).reshape(10, 100)
    masked, labels = mask_tokens(ids, torch.ones_like(ids, dtype=torch.bool), 4, 0.5,
                                 "electra", torch.Generator().manual_seed(0))  # fmt: skip
    sel = labels != -100
    kept = (masked[sel] != 4).float().mean()
    unmasked = masked[sel] != 4
    assert 0.08 < kept < 0.22 and (masked[sel][unmasked] == labels[sel][unmasked]).all()


def test_build_blocks_and_corpus_errors(tmp_path, tokenizer, corpus):
    blocks = build_blocks(corpus.sentences(40), tokenizer, block_size=16)
    assert len(blocks) > 10
    assert all(len(r) == 16 and r[0] == tokenizer.cls_token_id and r[-1] == tokenizer.sep_token_id
               for r in blocks["input_ids"])  # fmt: skip
    (tmp_path / "empty.txt").write_text("\n  \n")
    with pytest.raises(ValueError, match="empty"):
        read_corpus(tmp_path / "empty.txt")
    with pytest.raises(FileNotFoundError):
        read_corpus(tmp_path / "missing.txt")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("one line\n\ntwo line\n")
    assert read_corpus(tmp_path / "d") == ["one line", "two line"]


def test_tokenizer_without_mask_token_is_an_error(tokenizer):
    no_mask = PreTrainedTokenizerFast(tokenizer_object=tokenizer.backend_tokenizer,
                                      pad_token="[PAD]")  # fmt: skip
    with pytest.raises(ValueError, match="mask_token_id"):
        RTDCollator(no_mask)


def test_config_validation(tmp_path):
    with pytest.raises(ValueError, match="rtd_lambda"):
        RTDConfig(output_dir=str(tmp_path), rtd_lambda=0.0)
    with pytest.raises(ValueError, match="rtd_lambda"):
        RTDConfig(output_dir=str(tmp_path), rtd_lambda=-1.0)
    with pytest.raises(ValueError, match="embedding_sharing"):
        RTDConfig(output_dir=str(tmp_path), embedding_sharing="shared")
    with pytest.raises(ValueError, match="masking_style"):
        RTDConfig(output_dir=str(tmp_path), masking_style="bert")
    cfg = RTDConfig(output_dir=str(tmp_path))
    assert cfg.rtd_fields() == {
        "embedding_sharing": "gdes", "rtd_lambda": 50.0, "mask_prob": 0.15,
        "masking_style": "deberta", "temperature": 1.0, "generator_depth_ratio": 0.5,
        "generator_config": None,
    }  # fmt: skip


def test_roc_auc_matches_pair_count():
    g = torch.Generator().manual_seed(0)
    scores = torch.randint(0, 5, (200,), generator=g).float()
    labels = torch.rand(200, generator=g) < 0.3
    pos, neg = scores[labels], scores[~labels]
    brute = ((pos[:, None] > neg[None]).float() + 0.5 * (pos[:, None] == neg[None]).float()).mean()
    assert abs(roc_auc(scores, labels) - float(brute)) < 1e-6
    m = rtd_metrics(torch.tensor([[2.0, -1.0, 0.5]]), torch.tensor([[1, 0, 0]]),
                    torch.tensor([[1, 1, 0]]))  # fmt: skip
    assert m == {"rtd_accuracy": 1.0, "rtd_auc": 1.0, "replaced_fraction": 0.5}
