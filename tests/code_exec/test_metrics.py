"""Metrics against hand-computed values on small traces."""

import pytest
from code_exec.metrics import compute_metrics, compute_singleline_metrics, trace_outputs

GOLD = (
    "<line> <0> <state> a : 1 </state> <output> 3 <line> <1> <state> a : 1 <dictsep> b : 2 </state>"
)


def test_perfect_prediction_scores_100():
    m = compute_metrics([GOLD], [GOLD])
    assert set(m.to_dict().values()) == {100.0}


def test_hand_computed_partial_prediction():
    pred = GOLD.replace("b : 2", "b : 5")
    m = compute_metrics([pred], [GOLD])
    # segments: [line0, line1, output]; line1 differs -> 2/3 lines right
    assert (m.line_precision, m.line_recall) == (66.67, 66.67)
    # identifiers: gold 1 + 2 = 3, pred 3, correct: a (seg 0) + a (seg 1) = 2
    assert (m.id_precision, m.id_recall, m.id_f1) == (66.67, 66.67, 66.67)
    assert (m.output_acc, m.trace_acc) == (100.0, 0.0)


def test_wrong_line_number_gives_no_identifier_credit():
    pred = "<line> <5> <state> a : 1 </state>"
    gold = "<line> <0> <state> a : 1 </state>"
    m = compute_metrics([pred], [gold])
    assert (m.id_precision, m.line_f1, m.trace_acc) == (0.0, 0.0, 0.0)


def test_incomplete_last_segment_is_dropped_and_outputs_parsed():
    pred = GOLD + " <line> <2> <state> a : 1"
    assert compute_metrics([pred], [GOLD]).trace_acc == 100.0
    assert trace_outputs("<output> 7 _____event x <line> <0> <state> </state>") == ["7"]
    assert trace_outputs("<line> <0> <state> </state> <output> 7") == []  # official quirk


def test_output_accuracy_counts_only_programs_that_print():
    silent = "<line> <0> <state> a : 1 </state>"
    m = compute_metrics([silent, GOLD.replace("<output> 3", "<output> 4")], [silent, GOLD])
    assert m.output_acc == 0.0 and m.trace_acc == 50.0


def test_zero_denominators_official_vs_default():
    silent = "<line> <0> <state> a : 1 </state>"
    assert compute_metrics([silent], [silent]).output_acc == 0.0
    with pytest.raises(ZeroDivisionError):
        compute_metrics([silent], [silent], strict_official=True)
    with pytest.raises(ValueError, match="preds"):
        compute_metrics(["x"], [])


def test_singleline_metrics():
    gold = "<state> a : 1 <dictsep> b : [ 1 , 2 ] </state>"
    pred = "<state> a : 1 <dictsep> b : [ 1 ] </state>"
    m = compute_singleline_metrics([gold, pred], [gold, gold])
    assert m.trace_acc == 50.0
    assert (m.id_precision, m.id_recall) == (75.0, 75.0)
