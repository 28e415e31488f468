import argparse
import json
import math
import os
import stat

import pytest
import torch
from lmlab_common import (
    add_reproduce_args,
    atomic_write_json,
    atomic_write_text,
    markdown_table,
    mean_std,
    require_int,
    run_cli,
    save_tensors,
    write_report,
)
from lmlab_common.testing import parameters_digest


def test_mean_std_is_sample_sd_with_n():
    stats = mean_std([0.8, 0.9, 1.0])
    assert stats.n == 3 and math.isclose(stats.mean, 0.9) and math.isclose(stats.sd, 0.1)
    assert stats.format(scale=100, digits=1) == "90.0 ± 10.0 (n=3)"
    assert mean_std([2.0]).sd == 0.0 and mean_std([]).format() == "—"
    with pytest.raises(ValueError, match="finite"):
        mean_std([1.0, float("nan")])


def test_markdown_table_and_row_length():
    table = markdown_table(["arm", "acc"], [["ted", 0.5], ["kd", "0.4 ± 0.1"]])
    assert table.splitlines() == [
        "| arm | acc |",
        "|---|---|",
        "| ted | 0.5000 |",
        "| kd | 0.4 ± 0.1 |",
    ]
    with pytest.raises(ValueError, match="has 1 cells; allowed: 2"):
        markdown_table(["a", "b"], [[1]])


def test_write_report_adds_environment(tmp_path):
    json_path, md_path = write_report(tmp_path / "r", "pkg", {"acc": 1.0}, "# pkg\n")
    with open(json_path) as fh:
        data = json.load(fh)
    assert data["acc"] == 1.0 and data["environment"]["torch"] == torch.__version__
    with open(md_path) as fh:
        assert fh.read().startswith("# pkg\n\n_Environment: Python")
    with pytest.raises(ValueError, match="name='a/b'"):
        write_report(tmp_path, "a/b", {}, "")


def test_atomic_files_take_the_umask_mode(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_json(tmp_path / "a.json", {"x": "é"}, ensure_ascii=False)
        atomic_write_text(tmp_path / "b.txt", "x")
        save_tensors({"w": torch.ones(2)}, tmp_path / "c.safetensors")
    finally:
        os.umask(old)
    for name in ("a.json", "b.txt", "c.safetensors"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o644, name
    assert "é" in (tmp_path / "a.json").read_text(encoding="utf-8")


def test_require_int():
    require_int("n", 3, low=1, high=3)
    for bad, allowed in ((0, "an int in \\[1, 3\\]"), (2.0, "an int in"), (True, "an int in")):
        with pytest.raises(ValueError, match=f"n={bad!r} is invalid; allowed: {allowed}"):
            require_int("n", bad, low=1, high=3)


def _parser(func):
    parser = argparse.ArgumentParser(prog="demo")
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("reproduce")
    add_reproduce_args(cmd, seeds=2)
    cmd.set_defaults(func=func)
    return parser


def test_run_cli_user_error_is_one_line_exit_2(capsys):
    def fail(args):
        raise ValueError(f"--seeds={args.seeds} is too many")

    assert run_cli(_parser(fail), ["reproduce", "--seeds", "5"]) == 2
    err = capsys.readouterr().err
    assert err == "demo: error: --seeds=5 is too many\n"


def test_run_cli_defaults_and_interrupt(capsys):
    seen = {}

    def ok(args):
        seen.update(vars(args))

    assert run_cli(_parser(ok), ["reproduce"]) == 0
    assert seen["out"] == "reports" and seen["seeds"] == 2

    def interrupted(args):
        raise KeyboardInterrupt

    assert run_cli(_parser(interrupted), ["reproduce"]) == 130
    assert "interrupted" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        run_cli(_parser(ok), ["reproduce", "--seeds", "0"])
    assert exit_info.value.code == 2
    assert "--seeds='0' is invalid; allowed: an int >= 1" in capsys.readouterr().err


def test_parameters_digest_sees_one_changed_value():
    model = torch.nn.Linear(3, 2)
    before = parameters_digest(model)
    assert before == parameters_digest(model.state_dict())
    with torch.no_grad():
        model.weight[0, 0] += 1e-7
    assert parameters_digest(model) != before
