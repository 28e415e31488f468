import pytest
from step_verifier import (
    Problem,
    ReasoningPath,
    extract_answer,
    from_prm_rows,
    load_problems,
    normalize_answer,
    parse_free_text_steps,
    parse_gsm8k_solution,
    save_problems,
    step_result,
    to_prm_rows,
)

GSM8K = (
    "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n"
    "Natalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n"
    "#### 72"
)


def test_gsm8k_parser_steps_results_answer():
    path = parse_gsm8k_solution(GSM8K)
    assert path.answer == "72"
    assert len(path.steps) == 3 and path.steps[-1] == "#### 72"
    assert [step_result(s) for s in path.steps] == ["24", "72", "72"]


def test_gsm8k_without_answer_mark_uses_last_calculator_result():
    path = parse_gsm8k_solution("a <<2*3=6>>6\nb <<6+1=7>>7 so done")
    assert path.answer == "7" and path.steps[-1] == "#### 7"
    assert parse_gsm8k_solution("no numbers here").answer is None


def test_text_after_the_answer_is_dropped():
    path = parse_gsm8k_solution("x <<1+1=2>>2\n#### 2\nQuestion: more chatter")
    assert path.steps == ["x <<1+1=2>>2", "#### 2"]


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("$1,200.50 dollars", "1200.5"),
        ("3.0", "3"),
        (" 72 clips.", "72"),
        ("-0", "0"),
        ("Yes.", "yes"),
        ("", None),
        (None, None),
    ],
)
def test_normalize_answer(raw, norm):
    assert normalize_answer(raw) == norm


def test_free_text_and_extract_answer():
    path = parse_free_text_steps("First add.\nThen halve.\nSo the answer is 12 apples.")
    assert path.answer == "12" and len(path.steps) == 3
    assert parse_free_text_steps("no answer").answer is None
    assert extract_answer("blah\nThe answer is $5.") == "5"
    assert extract_answer(GSM8K) == "72"
    with pytest.raises(ValueError, match="separator"):
        parse_free_text_steps("x", separator="")


def test_prm_round_trip():
    problem = Problem("q?", "3", paths=[ReasoningPath(["a <<1+2=3>>3", "#### 3"], "3")])
    problem.paths.append(ReasoningPath(["a <<1+1=2>>2", "#### 2"], "2"))
    rows = to_prm_rows([problem], [[[1, 1], [1, 0]]])
    assert rows[1] == {"prompt": "q?", "completions": ["a <<1+1=2>>2", "#### 2"],
                       "labels": [True, False]}  # fmt: skip
    back, labels = from_prm_rows(rows)
    assert back[0].gold_answer == "3" and [p.answer for p in back[0].paths] == ["3", "2"]
    assert labels == [[[1, 1], [1, 0]]]
    with pytest.raises(ValueError, match="one label per step"):
        to_prm_rows([problem], [[[1], [1, 0]]])
    with pytest.raises(ValueError, match="missing"):
        from_prm_rows([{"prompt": "q"}])


def test_jsonl_round_trip(tmp_path, problems):
    save_problems(tmp_path / "p.jsonl", problems)
    back = load_problems(tmp_path / "p.jsonl")
    assert [p.to_dict() for p in back] == [p.to_dict() for p in problems]
    with pytest.raises(FileNotFoundError):
        load_problems(tmp_path / "missing.jsonl")
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    with pytest.raises(ValueError, match="bad.jsonl:1"):
        load_problems(tmp_path / "bad.jsonl")
