"""Every module imports, and every third-party import is declared in a requirements file.

The second test reads the imports of aasist/, scripts/, experiments/ and the notebook statically, so it
fails on a missing requirement even on a machine where that package happens to be
installed by hand.
"""
from __future__ import annotations

import ast
import importlib
import json
import pkgutil
import re
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

import aasist
from conftest import ROOT, load_script

NOTEBOOK = ROOT / "Audio Deepfake Detection.ipynb"
# Comments that exempt an import line: optional on purpose (the code says how to install it),
# or code the user points to (a clovaai/aasist checkout for the benchmark).
EXEMPT_MARKS = ("optional dependency", "not a dependency")


def _package_modules() -> list[str]:
    """Every module of the package but ``__main__`` (importing it runs the CLI)."""
    return sorted(m.name for m in pkgutil.walk_packages(aasist.__path__, "aasist.")
                  if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", _package_modules())
def test_every_package_module_imports(name):
    importlib.import_module(name)


@pytest.mark.slow
def test_the_command_line_starts():
    proc = subprocess.run([sys.executable, "-m", "aasist", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "predict" in proc.stdout, proc.stderr


@pytest.mark.parametrize("path", sorted([*(ROOT / "scripts").glob("*.py"),
                                         *(ROOT / "experiments").glob("*.py")]),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_script_imports(path):
    load_script(path.name, path.parent.name)  # they run only under `if __name__ == "__main__"`


def _requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("-r"):
            names |= _requirement_names(path.parent / line[2:].strip())
        elif line and not line.startswith("-"):
            names.add(_normalise(re.split(r"[<>=!~\[; ]", line)[0]))
    return names


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imports(source: str) -> set[str]:
    """Top-level modules imported by ``source``, skipping lines marked optional."""
    lines = source.splitlines()
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any(
                mark in lines[node.lineno - 1] for mark in EXEMPT_MARKS):
            continue
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _sources() -> dict[str, str]:
    files = {str(p.relative_to(ROOT)): p.read_text() for d in ("aasist", "scripts", "experiments")
             for p in (ROOT / d).rglob("*.py")}
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    files[NOTEBOOK.name] = "\n".join(line for cell in code for line in cell.splitlines()
                                     if not line.lstrip().startswith(("!", "%")))
    return files


def test_every_third_party_import_is_a_declared_requirement():
    runtime = _requirement_names(ROOT / "requirements.txt")
    local = {"aasist", "scripts", "experiments"}
    providers = packages_distributions()
    missing = []
    for where, source in _sources().items():
        for module in sorted(_imports(source) - local - set(sys.stdlib_module_names)):
            dists = {_normalise(d) for d in providers.get(module, [module])}
            if not dists & runtime:
                missing.append(f"{where}: {module} (from {', '.join(sorted(dists))})")
    assert not missing, "imports no line of requirements.txt provides:\n" + "\n".join(missing)


def test_dev_requirements_extend_the_runtime_ones():
    dev = _requirement_names(ROOT / "requirements-dev.txt")
    assert _requirement_names(ROOT / "requirements.txt") <= dev and "pytest" in dev


def test_torch_is_a_range_not_a_pin():
    """Installing next to an existing torch (e.g. Colab's CUDA build) must not replace it."""
    text = (ROOT / "requirements.txt").read_text()
    line = next(l for l in text.splitlines() if re.match(r"torch\b", l))
    assert "==" not in line and ">=" in line and "<" not in line


def test_install_script_keeps_an_installed_torch(tmp_path):
    from scripts import install_requirements as inst

    reqs = tmp_path / "requirements.txt"
    (tmp_path / "base.txt").write_text("numpy>=1\n# a comment\nno-such-dist-aasist>=1.0  # trailing\n")
    reqs.write_text("-r base.txt\ntorch>=2.6\n")
    assert inst.requirement_names(reqs) == ["numpy", "no-such-dist-aasist", "torch"]
    assert inst.missing(reqs) == ["no-such-dist-aasist"]
    keep = tmp_path / "keep.txt"
    cmd = inst.pip_command(reqs, keep)
    assert cmd[-2:] == ["-c", str(keep)] and cmd[1:4] == ["-m", "pip", "install"]
    assert inst.installed_torch().split("+")[0] == __import__("torch").__version__.split("+")[0]
