"""Build every workspace wheel, then install each alone into a fresh venv.

Each venv gets the wheel, the sibling wheels it requires (transitively) and its declared
third-party dependencies pinned to uv.lock's versions; then the package is imported and
its CLI run with ``--help``. Fails on the first package that does not install or run.
"""

from __future__ import annotations

import email.parser
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
VENVS = ROOT / ".venvs"
UV = os.environ.get("UV", "uv").split()


def run(*args: str | Path, **kwargs) -> subprocess.CompletedProcess:
    print("+", " ".join(str(a) for a in args), flush=True)
    return subprocess.run([str(a) for a in args], check=True, cwd=ROOT, **kwargs)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.Parser().parsestr(zf.read(meta).decode())


def entry_points(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if n.endswith(".dist-info/entry_points.txt")]
        if not names:
            return []
        text = zf.read(names[0]).decode()
    section = text.split("[console_scripts]", 1)[-1].split("[", 1)[0] if text else ""
    return [line.split("=")[0].strip() for line in section.splitlines() if "=" in line]


def main() -> int:
    shutil.rmtree(DIST, ignore_errors=True)
    run(*UV, "build", "--all-packages", "--wheel", "--out-dir", DIST)
    constraints = DIST / "constraints.txt"
    with open(constraints, "w") as fh:
        run(
            *UV,
            "export",
            "--frozen",
            "--all-packages",
            "--all-extras",
            "--no-hashes",
            "--no-emit-workspace",
            "--no-dev",
            "--format",
            "requirements-txt",
            stdout=fh,
        )
    wheels = {canonical(metadata(w)["Name"]): w for w in sorted(DIST.glob("*.whl"))}
    for name, wheel in wheels.items():
        needed, todo = [], [name]
        while todo:
            current = todo.pop()
            if current in needed:
                continue
            needed.append(current)
            for req in metadata(wheels[current]).get_all("Requires-Dist") or []:
                if "extra ==" in req:
                    continue
                dep = canonical(re.split(r"[\s<>=!~;\[(]", req, maxsplit=1)[0])
                if dep in wheels:
                    todo.append(dep)
        venv = VENVS / f"wheel-{name}"
        shutil.rmtree(venv, ignore_errors=True)
        run(*UV, "venv", "--quiet", venv)
        python = venv / "bin" / "python"
        run(
            *UV,
            "pip",
            "install",
            "--quiet",
            "--python",
            python,
            "-c",
            constraints,
            *[wheels[n] for n in needed],
        )
        module = name.replace("-", "_")
        run(python, "-c", f"import {module}; print({module}.__name__, 'imports alone')")
        for script in entry_points(wheel):
            run(venv / "bin" / script, "--help", stdout=subprocess.DEVNULL)
            print(f"{script} --help ok", flush=True)
        shutil.rmtree(venv, ignore_errors=True)
    print(f"wheels ok: {', '.join(wheels)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
