import pytest
import torch
from lmlab_common import tiny_encoder
from task_distill import (
    FilterTrainer,
    KDTrainer,
    LayerwiseTrainer,
    PadCollator,
    TaskAwareFilters,
    TEDConfig,
    TEDTrainer,
)
from task_distill.tasks import markov_lm_dataset


def make_args(tmp_path, **kw):
    base = dict(
        output_dir=str(tmp_path),
        max_steps=2,
        per_device_train_batch_size=8,
        learning_rate=1e-2,
        use_cpu=True,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        seed=0,
        kl_alpha=1.0,
        mse_alpha=1.0,
        logging_steps=1,
    )
    base.update(kw)
    return TEDConfig(**base)


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed(before: dict, module: torch.nn.Module) -> set[str]:
    after = module.state_dict()
    return {k for k, v in before.items() if not torch.equal(v, after[k])}


def _stage1(teacher, student, args, data):
    ft = FilterTrainer(
        teacher, args, student=student, train_dataset=data, data_collator=PadCollator()
    )
    ft.train()
    fs = FilterTrainer(
        student, args, teacher=teacher, train_dataset=data, data_collator=PadCollator()
    )
    fs.train()
    return ft.filters, fs.filters


def test_filter_trainer_trains_only_filters(tmp_path, teacher, student, cls_data):
    args = make_args(tmp_path)
    before = snapshot(teacher)
    trainer = FilterTrainer(
        teacher, args, student=student, train_dataset=cls_data, data_collator=PadCollator()
    )
    f_before = snapshot(trainer.filters)
    trainer.train()
    assert not changed(before, teacher)
    assert trainer.filters.layers == [2, 4]  # 2-layer student, 4-layer teacher: interval 2
    moved = changed(f_before, trainer.filters)
    assert any(k.startswith("filters.") for k in moved) and any(
        k.startswith("heads.") for k in moved
    )
    s_trainer = FilterTrainer(
        student, args, teacher=teacher, train_dataset=cls_data, data_collator=PadCollator()
    )
    assert s_trainer.filters.layers == [1, 2]
    assert s_trainer.filters.config.output_dim == 32  # d_f = teacher hidden (official)


def test_ted_step_updates_student_and_its_filters_only(tmp_path, teacher, student, cls_data):
    args = make_args(tmp_path)
    t_filters, s_filters = _stage1(teacher, student, args, cls_data)
    t_before, tf_before, s_before = snapshot(teacher), snapshot(t_filters), snapshot(student)
    trainer = TEDTrainer(
        student,
        args,
        teacher=teacher,
        teacher_filters=t_filters,
        student_filters=s_filters,
        train_dataset=cls_data,
        data_collator=PadCollator(),
    )
    sf_before = snapshot(trainer.model.filters)
    trainer.train()
    assert not changed(t_before, teacher)
    assert not changed(tf_before, t_filters)
    assert not changed(snapshot(trainer.teacher_filters), trainer.teacher_filters)
    assert changed(s_before, student)
    assert changed(sf_before, trainer.model.filters)
    assert not trainer.teacher.training and not trainer.teacher_filters.training
    log = trainer.state.log_history[0]
    assert log["layer_loss"] > 0 and log["kd_loss"] >= 0 and log["task_loss"] > 0


def test_kd_and_lwd_terms(tmp_path, teacher, student, cls_data):
    args = make_args(tmp_path)
    kd = KDTrainer(
        student, args, teacher=teacher, train_dataset=cls_data, data_collator=PadCollator()
    )
    assert kd.model.filters is None
    kd.train()
    assert kd.state.log_history[0]["layer_loss"] == 0.0
    lwd = LayerwiseTrainer(
        student, args, teacher=teacher, train_dataset=cls_data, data_collator=PadCollator()
    )
    proj = lwd.model.filters
    assert proj.layers == [1, 2] and proj.config.output_dim == 32 and not len(proj.heads)
    before = snapshot(proj)
    lwd.train()
    assert changed(before, proj)
    assert lwd.state.log_history[0]["layer_loss"] > 0


def test_ted_requires_matching_filters(tmp_path, teacher, student):
    args = make_args(tmp_path)
    with pytest.raises(ValueError, match="needs student_filters and teacher_filters"):
        TEDTrainer(student, args, teacher=teacher)
    wrong = TaskAwareFilters.for_model(teacher, [1, 3], output_dim=32)
    right = TaskAwareFilters.for_model(student, [1, 2], output_dim=32)
    with pytest.raises(ValueError, match="do not match layer_mapping"):
        TEDTrainer(student, args, teacher=teacher, teacher_filters=wrong, student_filters=right)


def test_incompatible_vocab_and_labels(tmp_path, teacher):
    args = make_args(tmp_path)
    other = tiny_encoder(
        "bert", "sequence_classification", vocab_size=50, hidden_size=16, num_layers=2, num_heads=2
    )
    with pytest.raises(ValueError, match="share one tokenizer/vocabulary"):
        KDTrainer(other, args, teacher=teacher)
    three = tiny_encoder(
        "bert",
        "sequence_classification",
        vocab_size=teacher.config.vocab_size,
        hidden_size=16,
        num_layers=2,
        num_heads=2,
        num_labels=3,
    )
    with pytest.raises(ValueError, match="num_labels"):
        KDTrainer(three, args, teacher=teacher)


def test_bad_mapping_errors(tmp_path, teacher, student):
    with pytest.raises(ValueError, match="teacher layer 9 is out of range"):
        LayerwiseTrainer(student, make_args(tmp_path, layer_mapping="1:9"), teacher=teacher)
    odd = tiny_encoder(
        "bert",
        "sequence_classification",
        vocab_size=teacher.config.vocab_size,
        hidden_size=16,
        num_layers=3,
        num_heads=2,
    )
    with pytest.raises(ValueError, match="cannot pair a 3-layer student with a 4-layer"):
        LayerwiseTrainer(odd, make_args(tmp_path), teacher=teacher)


def test_causal_lm_ted_different_width_and_depth(tmp_path, lm_pair):
    teacher, student = lm_pair
    data = markov_lm_dataset(16, seq_len=10, n_tokens=48)
    args = make_args(tmp_path, per_device_train_batch_size=4)
    collate = PadCollator(causal_lm=True)
    ft = FilterTrainer(teacher, args, student=student, train_dataset=data, data_collator=collate)
    ft.train()
    assert ft.filters.config.task == "causal_lm" and ft.filters.heads["2"].out_features == 53
    fs = FilterTrainer(student, args, teacher=teacher, train_dataset=data, data_collator=collate)
    fs.train()
    before = snapshot(student)
    ted = TEDTrainer(
        student,
        args,
        teacher=teacher,
        teacher_filters=ft.filters,
        student_filters=fs.filters,
        train_dataset=data,
        data_collator=collate,
    )
    ted.train()
    assert changed(before, student)
    log = ted.state.log_history[0]
    assert log["kd_loss"] > 0 and log["layer_loss"] > 0


def test_checkpoint_save_and_resume(tmp_path, teacher, student, cls_data, fresh):
    args = make_args(tmp_path, max_steps=2, save_strategy="steps", save_steps=1)
    lwd = LayerwiseTrainer(
        student, args, teacher=teacher, train_dataset=cls_data, data_collator=PadCollator()
    )
    lwd.train()
    ckpt = tmp_path / "checkpoint-1"
    assert (ckpt / "config.json").exists() and (ckpt / "filters" / "filters.safetensors").exists()
    final = snapshot(student)
    args2 = make_args(tmp_path, max_steps=2, save_strategy="no")
    fresh_student = fresh("student")
    again = LayerwiseTrainer(
        fresh_student, args2, teacher=teacher, train_dataset=cls_data, data_collator=PadCollator()
    )
    again.train(resume_from_checkpoint=str(ckpt))
    for k, v in final.items():
        assert torch.allclose(v, fresh_student.state_dict()[k], atol=1e-5), k


def test_determinism_under_seed(tmp_path, teacher, cls_data, fresh):
    outs = []
    for _ in range(2):
        s = fresh("student")
        KDTrainer(
            s,
            make_args(tmp_path),
            teacher=teacher,
            train_dataset=cls_data,
            data_collator=PadCollator(),
        ).train()
        outs.append(snapshot(s))
    assert all(torch.equal(outs[0][k], outs[1][k]) for k in outs[0])
