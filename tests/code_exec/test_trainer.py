"""Token-weighted loss, curriculum schedule, a training step, config round trips."""

import pytest
import torch
from code_exec import CodeExecTrainingArguments, SandboxConfig
from code_exec.trainer import (
    CodeExecTrainer,
    TraceCollator,
    build_tokenizer,
    curriculum_schedule,
    encode_example,
    token_weights,
    weighted_trace_loss,
)
from lmlab_common import tiny_seq2seq

TARGET = "<line> <0> <state> a : 1 <dictsep> b : [ 1 , 2 ] </state>"


def args(tmp_path, **kw):
    return CodeExecTrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to=[], **kw)


def test_tokenizer_round_trips_trace_text():
    tok = build_tokenizer(["<tutorial> <0> a = 1", TARGET])
    ids = tok(TARGET, add_special_tokens=False)["input_ids"]
    assert tok.unk_token_id not in ids
    assert tok.decode(ids) == TARGET
    assert tok.pad_token_id == 0 and tok.eos_token_id == 3


def test_weights_follow_the_official_rule(tmp_path):
    tok = build_tokenizer([TARGET])
    w = token_weights(tok, args(tmp_path))
    for t, expected in [("<state>", 1), ("</state>", 1), ("<dictsep>", 1), (":", 1),
                        ("1", 10), ("a", 10), ("<line>", 10), ("[", 10)]:  # fmt: skip
        assert w[tok.convert_tokens_to_ids(t)] == expected


def test_weighted_loss_matches_hand_computation():
    logits = torch.randn(1, 3, 5)
    labels = torch.tensor([[1, 2, -100]])
    weights = torch.tensor([1.0, 10.0, 1.0, 1.0, 1.0])
    ce = torch.nn.functional.cross_entropy(logits[0, :2], labels[0, :2], reduction="none")
    expected = (10 * ce[0] + 1 * ce[1]) / 2
    assert torch.allclose(weighted_trace_loss(logits, labels, weights), expected)


def test_curriculum_stages(tmp_path):
    tiers = ["singleline"] * 10 + ["tutorial"] * 10 + ["mutated"] * 10
    a = args(tmp_path, curriculum="curriculum", stage_fractions=(0.25, 0.25, 0.5))
    order = curriculum_schedule(tiers, a, total_batches=40, batch_size=4)
    batches = [{tiers[i] for i in order[k : k + 4]} for k in range(0, 160, 4)]
    assert all(len(b) == 1 for b in batches)  # one tier per batch, as officially
    assert all(b == {"singleline"} for b in batches[:10])
    assert set().union(*batches[10:20]) <= {"singleline", "tutorial"}
    assert "mutated" in set().union(*batches[20:])
    mixed = curriculum_schedule(tiers, args(tmp_path, curriculum="mixed"), 40, 4)
    assert "mutated" in {tiers[i] for i in mixed[:40]}


def test_training_step_changes_parameters(tmp_path):
    tok = build_tokenizer(["<tutorial> <0> a = 1", TARGET])
    rows = [encode_example(tok, "<tutorial> <0> a = 1", TARGET, 32, 32) for _ in range(4)]
    rows = [{**r, "tier": t} for r, t in zip(rows, ["singleline", "tutorial"] * 2, strict=True)]
    import datasets

    model = tiny_seq2seq("bart", vocab_size=len(tok), hidden_size=32, seed=0)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainer = CodeExecTrainer(
        model=model,
        args=args(tmp_path, max_steps=2, per_device_train_batch_size=2, save_strategy="no"),
        train_dataset=datasets.Dataset.from_list(rows),
        data_collator=TraceCollator(tok.pad_token_id),
        processing_class=tok,
    )
    trainer.train()
    changed = [n for n, p in model.named_parameters() if not torch.equal(p, before[n])]
    assert "model.encoder.layers.0.fc1.weight" in changed


def test_config_validation_and_round_trip(tmp_path):
    with pytest.raises(ValueError, match="value_token_weight"):
        args(tmp_path, value_token_weight=0)
    with pytest.raises(ValueError, match="stage3_mix"):
        args(tmp_path, stage3_mix=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="curriculum"):
        args(tmp_path, curriculum="random")
    cfg = SandboxConfig(timeout_s=1.5)
    cfg.save_pretrained(tmp_path)
    assert SandboxConfig.from_pretrained(tmp_path) == cfg
