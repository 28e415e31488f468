"""Traces of ordinary programs against hand-written expectations; the text format."""

import pytest
from code_exec import SandboxConfig, Step, Trace, parse_trace, serialize_trace, trace
from code_exec.trace_format import parse_state, serialize_state


def steps_of(box, source, **kw):
    result = box.run(source, **kw)
    assert result.status == "ok", result.error
    return [(s.line, s.state, s.output) for s in result.steps]


def test_straight_line_and_print(box):
    got = steps_of(box, "a = 1\nb = a + 2\nprint(a, b)\n")
    assert got == [
        (0, {"a": "1"}, []),
        (1, {"a": "1", "b": "3"}, []),
        (2, {"a": "1", "b": "3"}, ["1 3"]),
    ]


def test_loop_and_branch(box):
    src = "t = 0\nfor i in range(3):\n    if i % 2 == 0:\n        t += i\n"
    lines = [line for line, _, _ in steps_of(box, src)]
    # for-header runs 4 times (3 items + exhaustion), if runs 3 times, the body twice (i=0, 2)
    assert lines == [0, 1, 2, 3, 1, 2, 1, 2, 3, 1]
    assert steps_of(box, src)[-1][1] == {"t": "2", "i": "2"}


def test_lists_dicts_strings_render_in_official_style(box):
    src = "s = ['x', 'y']\nd = {'k': [1, 2], 3: (4, 5)}\ne = []\nf = 1.5\ng = None\n"
    state = steps_of(box, src)[-1][1]
    assert state == {
        "s": "[ x , y ]",
        "d": "{ k : [ 1 , 2 ] , 3 : ( 4 , 5 ) }",
        "e": "[]",
        "f": "1.5",
        "g": "None",
    }


def test_nested_functions_trace_their_own_locals(box):
    src = (
        "def outer(n):\n"
        "    def inner(m):\n"
        "        return m * 2\n"
        "    r = inner(n)\n"
        "    return r + 1\n"
        "x = outer(3)\n"
    )
    got = steps_of(box, src)
    assert got[0] == (0, {}, [])  # the def statement binds a function: hidden from the state
    inner_step = [s for s in got if s[0] == 2]
    assert inner_step == [(2, {"m": "3"}, [])]
    assert (4, {"n": "3", "r": "6"}, []) in got
    assert got[-1] == (5, {"x": "7"}, [])


def test_exception_is_reported_with_the_last_step(box):
    result = box.run("a = [1]\nb = a[5]\n")
    assert result.status == "error"
    assert result.error == "IndexError: list index out of range"
    assert [s.line for s in result.steps] == [0, 1]


def test_caught_exception_continues(box):
    src = "try:\n    x = 1 // 0\nexcept ZeroDivisionError:\n    x = -1\n"
    got = steps_of(box, src)
    assert got[-1][1] == {"x": "-1"}


def test_stdin_is_fed_to_input(box):
    got = steps_of(box, "a = int(input())\nb = a * a\n", stdin="7\n")
    assert got[-1][1] == {"a": "7", "b": "49"}


def test_unrenderable_values_fall_back_to_a_type_tag(box):
    src = "class Bad:\n    def __repr__(self):\n        raise RuntimeError\n"
    src += "b = Bad()\nit = iter([1])\n"
    state = steps_of(box, src)[-1][1]
    assert state == {"b": "<Bad>", "it": "<list_iterator>"}


def test_syntax_error_status_names_the_line(box):
    result = box.run("x = 1\ny = = 2\n")
    assert result.status == "syntax_error"
    assert "line 2" in result.error


def test_untraced_mode_runs_without_steps(box):
    result = box.run("print(sum(range(10)))\n", trace=False)
    assert (result.status, result.steps, result.stdout) == ("ok", [], "45\n")


def test_trace_function_and_bad_input():
    result = trace("x = 2\nprint(x ** 10)\n", timeout_s=2.0)
    assert result.ok and result.stdout == "1024\n"
    with pytest.raises(ValueError, match="UTF-8"):
        trace(b"x = '\xff'\n")
    for bad in ({"timeout_s": 0}, {"max_steps": 0}, {"max_memory_mb": -1}):
        with pytest.raises(ValueError, match=list(bad)[0]):
            trace("x = 1", **bad)
    with pytest.raises(ValueError, match="isolation"):
        SandboxConfig(isolation="vm")


def test_official_format_round_trip(box):
    src = "a = 'hi there'\nb = {'x': [1, 2]}\nfor i in range(2):\n    print(i, a)\n"
    result = box.run(src)
    text = result.to_text()
    assert text.startswith("<line> <0> <state> a : hi there </state> <line> <1> <state>")
    assert "<output> 1 hi there" in text
    assert parse_trace(text) == result.steps
    assert serialize_trace(parse_trace(text)) == text
    assert Trace.from_dict(result.to_dict()) == result


def test_state_format_and_parse_errors():
    state = {"s": "[ x , y , z ]", "t": "a : b"}
    text = serialize_state(state)
    assert text == "<state> s : [ x , y , z ] <dictsep> t : a : b </state>"
    assert parse_state(text) == state
    assert serialize_trace([Step(3, {"x": "1"}, ["5"])]) == (
        "<output> 5 <line> <3> <state> x : 1 </state>"
    )
    with pytest.raises(ValueError, match="state"):
        parse_state("x : 1")
    with pytest.raises(ValueError, match="line number"):
        parse_trace("<line> 3 <state> </state>")
    with pytest.raises(ValueError, match="output"):
        parse_trace("<line> <0> <state> </state> <output> 5")


def test_class_header_is_one_step_and_set_elements_run_no_user_repr(box):
    src = (
        "class A:\n    y = 2\n    def __repr__(self):\n        print('repr ran')\n"
        "        return 'A'\n    def __hash__(self):\n        return 1\n"
        "s = {A(), A()}\nt = {3, 1, 2}\n"
    )
    result = box.run(src)
    assert result.status == "ok", result.error
    assert [s.line for s in result.steps].count(0) == 1  # the class line, once
    assert "repr ran" not in result.stdout
    assert result.steps[-1].state == {"s": "{ <A> , <A> }", "t": "{ 1 , 2 , 3 }"}


def test_steps_come_in_completion_order(box):
    src = "def f(a):\n    return a + 1\nx = f(1)\n"
    assert [s.line for s in box.run(src).steps] == [0, 1, 2]  # callee's line before the call


def test_huge_source_gets_a_clear_memory_message(box):
    result = box.run("x = 1\n" * 170_000, timeout_s=10.0)  # ~1 MB of source
    assert result.status in {"ok", "memory_limit"}, (result.status, result.error)
    if result.status == "memory_limit":
        assert "max_memory_mb" in result.error
