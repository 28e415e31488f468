import pytest
import torch
from task_distill import (
    auto_layer_pairs,
    parse_layer_pairs,
    resolve_layer_pairs,
    student_from_config,
    student_from_teacher,
)


def test_auto_pairs_official_interval_rule():
    assert auto_layer_pairs(6, 12) == [(1, 2), (2, 4), (3, 6), (4, 8), (5, 10), (6, 12)]
    assert auto_layer_pairs(12, 12) == [(i, i) for i in range(1, 13)]
    assert auto_layer_pairs(4, 6, num_filters=2) == [(2, 3), (4, 6)]


def test_auto_pairs_that_cannot_pair_raise():
    with pytest.raises(ValueError, match="cannot pair a 4-layer student with a 6-layer"):
        auto_layer_pairs(4, 6)
    with pytest.raises(ValueError, match="student depth"):
        auto_layer_pairs(0, 6)


def test_explicit_pairs_parse_and_range_check():
    assert parse_layer_pairs("1:2, 2:4") == [(1, 2), (2, 4)]
    assert resolve_layer_pairs([(1, 3), (2, 4)], 2, 4) == [(1, 3), (2, 4)]
    with pytest.raises(ValueError, match="teacher layer 5 is out of range; allowed: 1..4"):
        resolve_layer_pairs("1:5", 2, 4)
    with pytest.raises(ValueError, match="student layer 3 is out of range"):
        resolve_layer_pairs("3:1", 2, 4)
    with pytest.raises(ValueError, match="student:teacher"):
        parse_layer_pairs("1-2")


def test_student_every_k_copies_teacher_blocks(teacher, collate, cls_data):
    student = student_from_teacher(teacher, every_k=2)
    assert student.config.num_hidden_layers == 2
    t_layers, s_layers = teacher.bert.encoder.layer, student.bert.encoder.layer
    for s_block, t_index in zip(s_layers, (1, 3), strict=True):
        for a, b in zip(s_block.parameters(), t_layers[t_index].parameters(), strict=True):
            assert torch.equal(a, b)
    batch = collate([dict(r) for r in cls_data.select(range(4))])
    batch.pop("labels")
    out = student(**batch, output_hidden_states=True)
    assert len(out.hidden_states) == 3
    with pytest.raises(ValueError, match="every_k"):
        student_from_teacher(teacher, every_k=3)


def test_student_from_smaller_config(teacher):
    student = student_from_config(
        teacher, seed=0, hidden_size=16, num_hidden_layers=1, intermediate_size=32
    )
    assert (
        student.config.hidden_size == 16 and student.config.vocab_size == teacher.config.vocab_size
    )
    again = student_from_config(
        teacher, seed=0, hidden_size=16, num_hidden_layers=1, intermediate_size=32
    )
    for a, b in zip(student.parameters(), again.parameters(), strict=True):
        assert torch.equal(a, b)
