import pathlib
import re

README = pathlib.Path(__file__).parents[2] / "packages" / "lowrank-sparse" / "README.md"


def test_readme_usage_example_runs(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert blocks, "README has no python example"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(blocks[0], str(README), "exec"), namespace)
    assert (tmp_path / "minilm-losparse" / "losparse_layers.json").is_file()
    assert 0.19 < namespace["report"].ratio <= 0.2
