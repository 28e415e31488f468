"""Issue 12 items 3-4: plain TrainingArguments, no silent in-place freezing, eval_loss is the
task loss, the normalised layer loss, and bad input that names the argument."""

import pytest
import torch
from task_distill import (
    FilterTrainer,
    KDTrainer,
    LayerwiseTrainer,
    PadCollator,
    TEDConfig,
    layer_mse_loss,
)
from transformers import TrainingArguments


def plain_args(tmp_path, **kw):
    base = dict(
        output_dir=str(tmp_path),
        max_steps=1,
        per_device_train_batch_size=8,
        per_device_eval_batch_size=16,
        use_cpu=True,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        seed=0,
    )
    return TrainingArguments(**{**base, **kw})


def test_baselines_and_stage1_accept_plain_training_arguments(tmp_path, teacher, student, cls_data):
    args = plain_args(tmp_path, learning_rate=3e-3)
    kd = KDTrainer(student, args, teacher=teacher, train_dataset=cls_data,
                   data_collator=PadCollator())  # fmt: skip
    assert isinstance(kd.args, TEDConfig) and kd.args.learning_rate == 3e-3
    assert kd.args.kl_alpha == TEDConfig.__dataclass_fields__["kl_alpha"].default
    kd.train()
    LayerwiseTrainer(student, args, teacher=teacher, train_dataset=cls_data,
                     data_collator=PadCollator()).train()  # fmt: skip
    FilterTrainer(teacher, args, student=student, train_dataset=cls_data,
                  data_collator=PadCollator()).train()  # fmt: skip
    with pytest.raises(ValueError, match="args=dict is invalid"):
        KDTrainer(student, {"output_dir": "x"}, teacher=teacher)


def test_filter_trainer_leaves_the_callers_model_trainable(tmp_path, teacher, student, cls_data):
    teacher.train()
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    trainer = FilterTrainer(teacher, plain_args(tmp_path), student=student,
                            train_dataset=cls_data, data_collator=PadCollator())  # fmt: skip
    assert all(p.requires_grad for p in teacher.parameters())
    trainer.train()
    assert all(p.requires_grad for p in teacher.parameters())  # restored after train()
    assert teacher.training
    assert all(torch.equal(v, teacher.state_dict()[k]) for k, v in before.items())
    assert all(p.grad is None for p in teacher.parameters())


def test_evaluate_reports_task_loss_and_terms_separately(tmp_path, teacher, student, cls_data):
    args = TEDConfig(**{**plain_args(tmp_path).to_dict(), "kl_alpha": 5.0, "mse_alpha": 50.0})
    lwd = LayerwiseTrainer(student, args, teacher=teacher, train_dataset=cls_data,
                           eval_dataset=cls_data.select(range(16)),
                           data_collator=PadCollator())  # fmt: skip
    metrics = lwd.evaluate()
    batch = PadCollator()([cls_data[i] for i in range(16)])
    with torch.no_grad():
        task = float(student.eval()(**batch).loss)
    assert metrics["eval_loss"] == pytest.approx(task, rel=1e-4)
    assert metrics["eval_kd_loss"] >= -1e-6 and metrics["eval_layer_loss"] > 0
    expect = task + 5.0 * metrics["eval_kd_loss"] + 50.0 * metrics["eval_layer_loss"]
    assert metrics["eval_total_loss"] == pytest.approx(expect, rel=1e-4)


def test_empty_dataset_and_empty_input_ids(tmp_path, teacher, student, cls_data):
    args = plain_args(tmp_path)
    with pytest.raises(ValueError, match="train_dataset is empty"):
        KDTrainer(student, args, teacher=teacher, train_dataset=cls_data.select([]))
    with pytest.raises(ValueError, match="eval_dataset is empty"):
        FilterTrainer(teacher, args, student=student, eval_dataset=cls_data.select([]))
    with pytest.raises(ValueError, match="input_ids of example 1"):
        PadCollator()([{"input_ids": [2, 5], "labels": 0}, {"input_ids": [], "labels": 1}])
    with pytest.raises(ValueError, match="input_ids shape"):
        from task_distill import run_model

        run_model(student, torch.zeros(2, 0, dtype=torch.long))


@pytest.mark.parametrize("spec, side", [("1:2,1:2", "student"), ("1:2,2:2", "teacher")])
def test_duplicate_layer_pairs_are_refused(tmp_path, spec, side):
    with pytest.raises(ValueError, match=f"layer_mapping='{spec}' is invalid: {side} layer"):
        TEDConfig(output_dir=str(tmp_path), layer_mapping=spec)


def test_normalised_layer_loss_is_scale_free():
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(2, 5, 8, generator=g), torch.randn(2, 5, 8, generator=g) * 3
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    raw = layer_mse_loss(s, t, mask)
    norm = layer_mse_loss(s, t, mask, normalize=True)
    keep = mask.bool()
    assert torch.allclose(norm, raw / t[keep].pow(2).mean(), atol=1e-6)
    assert torch.allclose(layer_mse_loss(10 * s, 10 * t, mask, normalize=True), norm, atol=1e-5)
    assert float(layer_mse_loss(torch.zeros_like(t), t, mask, normalize=True)) == pytest.approx(1)
    with pytest.raises(ValueError, match="layer_loss_scale"):
        TEDConfig(output_dir="x", layer_loss_scale="batch")
