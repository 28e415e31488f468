import pytest
import torch
from gen_rank import Ranker, encode_pairs, pick_candidates, ranker_loss
from lmlab_common import train_tokenizer


def test_encode_pairs_layout(tok):
    batch = encode_pairs(tok, ["1 + 2", "3 + 4 + 5"], [["A 3", "S"], ["answer 2", "B"]], 2, 1)
    assert batch["input_ids"].shape[:2] == (2, 2)
    row = batch["input_ids"][1, 0].tolist()
    ids = tok("3 + 4 answer", add_special_tokens=False)["input_ids"]
    # [CLS] src[:2] [SEP] cand[:1], no trailing SEP
    assert row[:5] == [tok.cls_token_id, ids[0], ids[1], tok.sep_token_id, ids[3]]
    assert batch["token_type_ids"][1, 0].tolist()[:5] == [0, 0, 0, 0, 1]
    with pytest.raises(ValueError, match="same number"):
        encode_pairs(tok, ["1", "2"], [["a"], ["b", "c"]])


def test_scores_shape_and_save_load(tmp_path, tok, ranker):
    s = ranker.score(tok, ["1 + 2", "3 + 4"], [["A 1", "S", "B"], ["C", "A", "S 2"]])
    assert s.shape == (2, 3)
    ranker.save_pretrained(tmp_path / "r")
    back = Ranker.from_pretrained(tmp_path / "r")
    s2 = back.score(tok, ["1 + 2", "3 + 4"], [["A 1", "S", "B"], ["C", "A", "S 2"]])
    assert torch.equal(s, s2)
    with pytest.raises(FileNotFoundError):
        Ranker.from_pretrained(tmp_path)


def test_losses():
    good = torch.tensor([[5.0, 0.0, -1.0]])
    bad = torch.tensor([[-1.0, 0.0, 5.0]])
    m = torch.tensor([[1.0, 0.5, 0.0]])
    for kind in ("contrastive", "binary", "rank", "listwise"):
        assert ranker_loss(good, kind, m) < ranker_loss(bad, kind, m), kind
    assert ranker_loss(good, "contrastive") == pytest.approx(
        float(-torch.log_softmax(good, 1)[0, 0])
    )
    with pytest.raises(ValueError, match="loss_type"):
        ranker_loss(good, "hinge")
    with pytest.raises(ValueError, match="listwise"):
        ranker_loss(good, "listwise")


def test_pick_candidates():
    m = torch.tensor([[0.1, 0.9, 0.5, 0.0, 0.7]])
    assert pick_candidates(m, 3, "bottom").tolist() == [[1, 0, 3]]  # best, then the 2 worst
    assert pick_candidates(m, 3, "top").tolist() == [[1, 4, 2]]
    assert pick_candidates(m, 3, "all").tolist() == [[1, 4, 2, 0, 3]]
    r = pick_candidates(m, 3, "random", torch.Generator().manual_seed(0))
    assert r[0, 0] == 1 and len(set(r[0].tolist())) == 3
    with pytest.raises(ValueError, match="num_cand_picked"):
        pick_candidates(m, 6, "bottom")


def test_ranker_learns_a_toy_preference(tok, make_ranker):
    """A few steps of the contrastive loss make the ranker prefer the positive."""
    torch.manual_seed(0)
    ranker = make_ranker(1)
    opt = torch.optim.AdamW(ranker.parameters(), lr=3e-3)
    srcs = ["1 + 2"] * 8
    cands = [["A 1 + 2 = 3", "S answer 2", "S answer 1"]] * 8
    batch = encode_pairs(tok, srcs, cands)
    for _ in range(30):
        loss = ranker_loss(ranker(**batch), "contrastive")
        opt.zero_grad()
        loss.backward()
        opt.step()
    ranker.eval()
    s = ranker(**batch)[0]
    assert s[0] > s[1] and s[0] > s[2]


def test_round_trip_error(tok):
    from gen_rank import check_round_trip

    other = train_tokenizer(["hello world"], kind="wordlevel", vocab_size=20, wrap="cls_sep")
    check_round_trip(tok, tok, ["3 + 4 = 7"])
    with pytest.raises(ValueError, match="round-trip"):
        check_round_trip(tok, other, ["3 + 4 = 7"])


def test_chain_step_labels_mark_step_results():
    from gen_rank.synthetic import chain_step_labels

    src = "3 + 4 + 2 + 7"  # true steps 7, 9, 6; answer 6
    for cand, want in [
        (
            "A 3 + 4 = 7 ; 7 + 2 = 9 ; 9 + 7 = 6 ; answer 6",
            [("7", 1), ("9", 1), ("6", 1), ("6", 1)],
        ),
        (
            "C 7 = 3 + 4 ; 8 = 7 + 2 ; 5 = 8 + 7 ; answer 5",
            [("7", 1), ("8", 0), ("5", 0), ("5", 0)],
        ),
        (
            "B 4 + 3 = 7 ; 2 + 7 = 1 ; 1 + 7 = 8 ; answer 8",
            [("7", 1), ("1", 0), ("8", 0), ("8", 0)],
        ),
        ("S answer 7", [("7", 0)]),
        ("", []),
    ]:
        got = [(cand[a:b], int(v)) for a, b, v in chain_step_labels(src, cand)]
        assert got == want, cand


def test_step_head_labels_align_and_round_trip(tmp_path, tok):
    from gen_rank.ranker import step_labels, step_loss
    from gen_rank.synthetic import chain_step_labels
    from lmlab_common import tiny_encoder

    enc = tiny_encoder("bert", vocab_size=len(tok), hidden_size=16, num_layers=2, num_heads=2,
                       seed=0)  # fmt: skip
    ranker = Ranker(enc, step_head=True, step_layer=1)
    srcs = ["3 + 4 + 2 + 7", "1 + 1"]
    cands = [["A 3 + 4 = 7 ; 7 + 2 = 0", "S answer 7"], ["C 2 = 1 + 1 ; answer 2", "S answer 1"]]
    batch = encode_pairs(tok, srcs, cands)
    labels = step_labels(tok, srcs, cands, chain_step_labels, batch["input_ids"].shape[-1])
    ids = batch["input_ids"]
    for b, c, want in [(0, 0, {"7": 1.0, "0": 0.0}), (0, 1, {"7": 0.0}), (1, 0, {"2": 1.0})]:
        at = (labels[b, c] != -100).nonzero().flatten().tolist()
        got = {tok.convert_ids_to_tokens(int(ids[b, c, i])): float(labels[b, c, i]) for i in at}
        assert got == want, (b, c, got)
        assert all(batch["token_type_ids"][b, c, i] == 1 for i in at)  # candidate positions
    scores, steps = ranker(**batch, return_step_logits=True)
    assert scores.shape == (2, 2) and steps.shape == ids.shape
    step_loss(steps, labels).backward()
    assert ranker.step_head.weight.grad.abs().sum() > 0
    ranker.eval()
    ranker.save_pretrained(tmp_path / "r")
    back = Ranker.from_pretrained(tmp_path / "r")
    assert back.step_layer == 1
    assert torch.equal(
        back(**batch, return_step_logits=True)[1], ranker(**batch, return_step_logits=True)[1]
    )
    with pytest.raises(ValueError, match="step_head"):
        Ranker(enc)(**batch, return_step_logits=True)
