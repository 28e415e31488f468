"""Workspace-wide packaging rules from the design notes, checked on every package."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = sorted(p for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").exists())
IDS = [p.name for p in PACKAGES]


def load(path: Path) -> dict:
    return tomllib.loads(path.read_text())


def test_root_is_a_virtual_workspace():
    root = load(ROOT / "pyproject.toml")
    assert "project" not in root
    assert root["tool"]["uv"]["workspace"]["members"] == ["packages/*", "apps/*"]
    assert "--import-mode=importlib" in root["tool"]["pytest"]["ini_options"]["addopts"]


@pytest.mark.parametrize("package", PACKAGES, ids=IDS)
def test_package_layout_and_metadata(package):
    meta = load(package / "pyproject.toml")["project"]
    module = package.name.replace("-", "_")
    assert meta["name"] == package.name
    assert meta["requires-python"] == ">=3.11"
    assert (package / "src" / module / "__init__.py").is_file()
    assert (package / "src" / module / "__main__.py").is_file()
    assert (package / "README.md").is_file()
    assert meta["scripts"].get(package.name, "").startswith(f"{module}.")
    tests = ROOT / "tests" / module
    assert list(tests.glob("test_*.py")), f"{package.name} has no tests in tests/{module}"


@pytest.mark.parametrize("package", [p for p in PACKAGES if p.name != "lmlab-common"], ids=str)
def test_packages_depend_on_common_through_the_workspace(package):
    data = load(package / "pyproject.toml")
    deps = [re.split(r"[\s<>=\[;]", d)[0] for d in data["project"]["dependencies"]]
    assert "lmlab-common" in deps
    assert data["tool"]["uv"]["sources"]["lmlab-common"] == {"workspace": True}


def test_only_code_exec_uses_tree_sitter_and_only_vl_ground_uses_pillow():
    for package in PACKAGES:
        deps = " ".join(load(package / "pyproject.toml")["project"]["dependencies"]).lower()
        if package.name != "code-exec":
            assert "tree-sitter" not in deps, package.name
        if package.name != "vl-ground":
            assert "pillow" not in deps, package.name


def test_no_machine_local_paths_or_indexes_in_tracked_files():
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    bad = re.compile(
        r"(file:///|/root/|/home/\w+|/opt/pypi|download\.pytorch\.org|extra-index-url)"
    )
    offenders = []
    for name in files:
        path = ROOT / name
        if path.suffix in {".py", ".toml", ".lock", ".md", ".txt", ".cfg", ""} and path.is_file():
            text = path.read_text(errors="ignore")
            if name == "tests/test_packaging.py":
                continue
            if bad.search(text):
                offenders.append(name)
    assert offenders == []


def test_lock_takes_torch_from_the_public_index():
    lock = (ROOT / "uv.lock").read_text()
    block = lock.split('name = "torch"\n', 1)[1].split("[[package]]", 1)[0]
    assert 'source = { registry = "https://pypi.org/simple" }' in block


@pytest.mark.parametrize("package", PACKAGES, ids=IDS)
def test_cli_help_runs(package):
    module = package.name.replace("-", "_")
    out = subprocess.run(
        [sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert package.name in out.stdout
