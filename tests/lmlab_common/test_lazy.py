"""lazy_exports: names load on first use, are cached, and unknown names raise AttributeError."""

import sys

import pytest


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    root = tmp_path / "fakepkg"
    root.mkdir()
    (root / "__init__.py").write_text(
        "from lmlab_common import lazy_exports\n"
        "_EXPORTS = {'answer': 'heavy', 'renamed': 'heavy'}\n"
        "__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, {'renamed': 'answer'})\n"
    )
    (root / "heavy.py").write_text("LOADS = []\nLOADS.append(1)\nanswer = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for name in [n for n in sys.modules if n.startswith("fakepkg")]:
        del sys.modules[name]


def test_names_load_on_first_use_and_are_cached(fake_package):
    import fakepkg

    assert "fakepkg.heavy" not in sys.modules
    assert "answer" in dir(fakepkg)
    assert fakepkg.answer == 42 and fakepkg.renamed == 42
    assert "answer" in vars(fakepkg)  # cached: the next access skips __getattr__
    assert sys.modules["fakepkg.heavy"].LOADS == [1]
    with pytest.raises(AttributeError, match="fakepkg.*no attribute 'missing'"):
        _ = fakepkg.missing
