import json
import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "packages" / "lmlab-common" / "README.md"


def test_readme_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 2
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})
    report = json.loads((tmp_path / "reports" / "my-package.json").read_text())
    assert report["accuracy"]["n"] == 3 and "environment" in report
