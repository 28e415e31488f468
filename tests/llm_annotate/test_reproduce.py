import json

from llm_annotate import ScriptedBackend
from llm_annotate.reproduce import run_comparison


def test_reproduce_reports_a_mode_that_cannot_run(qk_items, tmp_path):
    def script(prompt):
        if (
            "Briefly explain" in prompt
            or "give the reason" in prompt
            or "Explain briefly" in prompt
        ):
            return ""  # a weak model with nothing to say
        return " relevant"

    report = run_comparison(ScriptedBackend(script), tmp_path, limit=6, progress=False)
    expected = sum(i["label"] == "relevant" for i in qk_items[:6]) / 6
    for template, row in report["results"]["few_shot"].items():
        assert row["accuracy"] == expected, template
        assert row["coverage"] == 1.0
    for row in report["results"]["cot"].values():
        assert "explanation" in row["error"] and row["accuracy"] == 0.0
    assert report["template_stability"]["zero_shot"]["std_accuracy"] == 0.0
    saved = json.loads((tmp_path / "llm-annotate.json").read_text())
    assert saved["results"]["cot"]["default"]["error"]
    assert "cot / default could not run" in (tmp_path / "llm-annotate.md").read_text()


def test_reproduce_seeds_are_demonstration_orders_with_sample_sd(tmp_path):
    import re
    import statistics

    def last_demo_label(prompt):  # copies the demonstration right before the query
        labels = re.findall(r"(?:Answer|Label|Correct answer): (\w+)", prompt)
        return " " + (labels[-1] if labels else "relevant")

    report = run_comparison(
        ScriptedBackend(last_demo_label), tmp_path, modes=("few_shot",), templates=("default",),
        limit=3, seeds=3, progress=False,
    )  # fmt: skip
    arm = report["results"]["few_shot"]["default"]
    accs = [s["accuracy"] for s in arm["seeds"]]
    assert [s["seed"] for s in arm["seeds"]] == [0, 1, 2]
    assert len(set(accs)) > 1  # the order of the demonstrations matters to this backend
    assert arm["accuracy"] == statistics.fmean(accs)
    assert arm["accuracy_sd"] == statistics.stdev(accs)  # sample sd, not population
    saved = json.loads((tmp_path / "llm-annotate.json").read_text())
    assert saved["seeds"] == 3 and "environment" in saved  # written by write_report
    assert "(n=3)" in (tmp_path / "llm-annotate.md").read_text()
