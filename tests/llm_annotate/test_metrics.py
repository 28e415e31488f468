import pytest
from llm_annotate import (
    Prices,
    accuracy,
    agreement,
    cohen_kappa,
    confusion,
    evaluate,
    label_distribution,
    usage_summary,
)


def test_kappa_hand_computed():
    # 2x2 table: yes/yes 20, yes/no 5, no/yes 10, no/no 15 (n = 50)
    a = ["y"] * 25 + ["n"] * 25
    b = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    # p_o = 35/50 = 0.7; p_e = 0.5*0.6 + 0.5*0.4 = 0.5; kappa = 0.2/0.5 = 0.4
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    assert accuracy(a, b) == pytest.approx(0.7)


def test_kappa_three_classes_hand_computed():
    a = ["x", "x", "y", "y", "z", "z"]
    b = ["x", "y", "y", "y", "z", "x"]
    # p_o = 4/6; marginals a: 2,2,2; b: x2 y3 z1 -> p_e = (4 + 6 + 2)/36 = 1/3
    assert cohen_kappa(a, b) == pytest.approx((4 / 6 - 1 / 3) / (1 - 1 / 3))


def test_kappa_edge_cases():
    assert cohen_kappa(["a", "b"], ["a", "b"]) == pytest.approx(1.0)
    assert cohen_kappa(["a", "a"], ["a", "a"]) == 1.0  # p_e = 1
    assert cohen_kappa(["a", "b"], ["b", "a"]) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="equal lengths"):
        cohen_kappa(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="at least one"):
        accuracy([], [])


def test_confusion_and_distribution():
    table = confusion(["p", "p", "n", "n"], ["p", "n", "n", "n"])
    assert table == {"p": {"p": 1, "n": 1}, "n": {"n": 2}}
    records = [{"label": "p"}, {"label": None}, {"label": "p"}]
    assert label_distribution(records) == {"p": 2, "<none>": 1}


def rec(i, label, gold, cached=False, model="m"):
    return {
        "id": str(i),
        "label": label,
        "gold": gold,
        "status": "ok" if label else "unparseable",
        "cached": cached,
        "model": model,
        "usage": {"prompt_tokens": 100, "completion_tokens": 10},
    }


def test_evaluate_counts_missing_labels_as_wrong():
    records = [rec(0, "p", "p"), rec(1, None, "n"), rec(2, "n", "n"), rec(3, "p", "n", True)]
    report = evaluate(records)
    assert report.accuracy == pytest.approx(0.5)
    assert report.coverage == pytest.approx(0.75)
    assert report.confusion["n"] == {"<none>": 1, "n": 1, "p": 1}
    assert report.status == {"ok": 3, "unparseable": 1}
    assert report.usage["paid_calls"] == 3 and report.usage["cached"] == 1


def test_cost_uses_per_model_prices(tmp_path):
    path = tmp_path / "prices.yaml"
    path.write_text("m: {input: 2.0, output: 10.0}\ndefault: {input: 1.0, output: 1.0}\n")
    prices = Prices.load(path)
    records = [rec(0, "p", "p"), rec(1, "p", "p", model="other"), rec(2, "p", "p", cached=True)]
    usage = usage_summary(records, prices)
    # m: (100*2 + 10*10)/1e6 ; other: (100 + 10)/1e6 ; cached record costs nothing
    assert usage["cost_usd"] == pytest.approx((300 + 110) / 1e6)
    assert usage["prompt_tokens"] == 200
    bad = tmp_path / "bad.yaml"
    bad.write_text("m: {input: 2.0}\n")
    with pytest.raises(ValueError, match="'m' needs 'input' and 'output'"):
        Prices.load(bad)


def test_agreement_between_modes():
    a = [rec(0, "p", None), rec(1, "n", None), rec(2, "n", None)]
    b = [rec(1, "n", None), rec(2, "p", None), rec(9, "p", None)]
    result = agreement(a, b)
    assert result["n"] == 2
    assert result["agreement"] == pytest.approx(0.5)
