import math

import pytest
import torch
from lmlab_common import tiny_encoder
from lmlab_common.testing import parameters_digest
from step_verifier import (
    StepAwareVerifier,
    VerifierConfig,
    VerifierTrainer,
    VerifierTrainingConfig,
    add_step_marker,
    build_verifier_dataset,
    verifier_loss,
)
from step_verifier.config import IGNORE, SOL_CORRECT, STEP_CORRECT, STEP_INCORRECT


def test_encode_places_labels_on_cls_and_step_markers(verifier, problems):
    p = problems[0]
    rows = verifier.encode(
        [p.question], [p.paths[0]], [(False, [1] * (len(p.paths[0].steps) - 1) + [0])]
    )
    ids, labels = rows[0]["input_ids"], rows[0]["labels"]
    tok = verifier.tokenizer
    assert ids[0] == tok.cls_token_id and labels[0] != IGNORE
    markers = [i for i, t in enumerate(ids) if t == tok.convert_tokens_to_ids("%%")]
    assert markers == rows[0]["step_positions"] and len(markers) == len(p.paths[0].steps)
    assert [labels[i] for i in markers][-1] == STEP_INCORRECT
    assert all(labels[i] == STEP_CORRECT for i in markers[:-1])
    others = [lab for i, lab in enumerate(labels) if i != 0 and i not in markers]
    assert set(others) == {IGNORE}
    # solution first, then [SEP] question [SEP]
    assert ids.count(tok.sep_token_id) == 2 and ids[-1] == tok.sep_token_id


def test_loss_matches_the_weighted_formula():
    torch.manual_seed(0)
    logits = torch.randn(2, 6, 5)
    labels = torch.full((2, 6), IGNORE)
    labels[:, 0] = torch.tensor([0, 1])
    labels[0, 3], labels[1, 2], labels[1, 4] = 2, 3, 2
    ce = torch.nn.functional.cross_entropy(logits.view(-1, 5), labels.view(-1), reduction="none",
                                           ignore_index=IGNORE).view(2, 6)  # fmt: skip
    sol = ce[:, 0].sum()
    step = ce[0, 3] + ce[1, 2] + ce[1, 4]
    for alpha in (0.0, 0.1, 1.0):
        expect = (sol + alpha * step) / (2 + alpha * 3)
        assert torch.allclose(verifier_loss(logits, labels, alpha), expect)


def test_marker_missing_is_an_error_then_added(tokenizer):
    enc = tiny_encoder("bert", "token_classification", vocab_size=len(tokenizer), hidden_size=16,
                       num_layers=1, num_heads=2, num_labels=5, seed=0)  # fmt: skip
    with pytest.raises(ValueError, match="add_step_marker"):
        StepAwareVerifier(enc, tokenizer, VerifierConfig(step_marker="<step>"))
    new_id = add_step_marker(enc, tokenizer, "<step>")
    assert enc.get_input_embeddings().weight.shape[0] == len(tokenizer) > new_id
    StepAwareVerifier(enc, tokenizer, VerifierConfig(step_marker="<step>"))
    bad = tiny_encoder("bert", "token_classification", vocab_size=len(tokenizer), num_labels=2)
    with pytest.raises(ValueError, match="num_labels=2"):
        StepAwareVerifier(bad, tokenizer)


def test_score_is_batched_ordered_and_round_trips(tmp_path, verifier, problems):
    questions = [p.question for p in problems for _ in p.paths]
    paths = [x for p in problems for x in p.paths]
    one = verifier.score(questions, paths, batch_size=1)
    many = verifier.score(questions, paths, batch_size=64)
    for a, b in zip(one, many, strict=True):
        assert math.isclose(a.score, b.score, abs_tol=1e-5)
        assert len(a.step_scores) == len(b.step_scores)
    assert all(0 < s.score < 1 for s in many)
    assert verifier.score([], []) == []
    verifier.save_pretrained(tmp_path / "v")
    loaded = StepAwareVerifier.from_pretrained(tmp_path / "v")
    assert loaded.verifier_config == verifier.verifier_config
    again = loaded.score(questions, paths)
    assert [round(s.score, 5) for s in again] == [round(s.score, 5) for s in many]


def _args(tmp_path, alpha, **kw):
    return VerifierTrainingConfig(output_dir=str(tmp_path), alpha=alpha, max_steps=3,
                                  per_device_train_batch_size=8, learning_rate=1e-3,
                                  save_strategy="no", report_to="none", use_cpu=True,
                                  disable_tqdm=True, **kw)  # fmt: skip


def test_trainer_step_changes_weights_and_alpha_zero_ignores_steps(tmp_path, verifier, problems):
    data = build_verifier_dataset(verifier, problems)
    assert len(data) == sum(len(p.paths) + 1 for p in problems)  # + gold as positive
    before = parameters_digest(verifier)
    trainer = VerifierTrainer(verifier, _args(tmp_path, 0.1), train_dataset=data)
    trainer.train()
    assert parameters_digest(verifier) != before
    # α = 0: the step labels have no influence on the loss
    batch = trainer.data_collator([data[i] for i in range(4)])
    verifier.eval()  # no dropout: compare the loss terms only
    flipped = batch["labels"].clone()
    flipped[flipped == STEP_CORRECT] = STEP_INCORRECT
    out = verifier(batch["input_ids"], batch["attention_mask"], batch["labels"], alpha=0.0)
    out2 = verifier(batch["input_ids"], batch["attention_mask"], flipped, alpha=0.0)
    assert torch.equal(out["loss"], out2["loss"])
    out3 = verifier(batch["input_ids"], batch["attention_mask"], flipped, alpha=0.1)
    assert not torch.equal(out["loss"], out3["loss"])
    assert int((batch["labels"] == SOL_CORRECT).sum()) + int((batch["labels"] == 1).sum()) == 4


def test_bad_config_and_inputs(tmp_path, verifier, problems):
    with pytest.raises(ValueError, match="alpha"):
        _args(tmp_path, -1.0)
    with pytest.raises(ValueError, match="max_length"):
        VerifierConfig(max_length=2)
    with pytest.raises(ValueError, match="VerifierTrainingConfig"):
        from transformers import TrainingArguments

        VerifierTrainer(verifier, TrainingArguments(output_dir=str(tmp_path)))
    with pytest.raises(ValueError, match="at least one problem"):
        build_verifier_dataset(verifier, [])
    assert VerifierConfig.from_json(VerifierConfig().to_json()) == VerifierConfig()


def test_experiment_dropout_reaches_the_verifier(tmp_path, tokenizer, problems):
    from step_verifier.experiment import ExperimentConfig, train_verifier

    with pytest.raises(ValueError, match="dropout"):
        ExperimentConfig(dropout=1.0)
    assert ExperimentConfig().dropout == 0.0
    cfg = ExperimentConfig(verifier_steps=1, verifier_batch=4, verifier_width=32, dropout=0.25)
    verifier = train_verifier(problems, tokenizer, cfg, 0.1, 0, str(tmp_path / "v"))
    rates = {m.p for m in verifier.model.modules() if isinstance(m, torch.nn.Dropout)}
    assert rates == {0.25}
