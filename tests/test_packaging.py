"""The package as others pick it up: metadata, requirement files, the house's floors, no
side effects at import, and an installed copy working outside the clone."""
from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import aasist
from conftest import PARITY, ROOT

PACKAGE = ROOT / "aasist"
tomllib = pytest.importorskip("tomllib")  # Python 3.11+
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

# Floors of the house (DESIGN.md): a module may import its own floor and those below.
FLOORS = {
    "errors": 0, "fileio": 0, "melscale": 0, "metrics": 0, "__init__": 0,
    "nn": 1, "data": 1, "runtime": 1,
    "pretrained": 2, "config": 2, "augment": 2, "inference": 2, "download": 2, "plots": 2,
    "vad": 2, "calibrate": 2,
    "train": 3, "evaluate": 3, "predict": 3, "stream": 3, "export": 3,
    "cli": 4, "serve": 4, "__main__": 4,
}


# --------------------------------------------------------------------------- metadata


def _requirements(path: Path) -> dict[str, str]:
    """{normalised name: specifier} of a requirements file (``-r`` includes followed)."""
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("-r"):
            out.update(_requirements(path.parent / line[2:].strip()))
        elif line:
            out.update(_specs([line]))
    return out


def _specs(lines) -> dict[str, str]:
    out = {}
    for line in lines:
        name, spec = re.match(r"([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*(.*)", line).groups()
        out[re.sub(r"[-_.]+", "-", name).lower()] = spec.replace(" ", "")
    return out


def test_requirement_files_equal_pyproject():
    """requirements.txt (Colab, `pip install -r`) = dependencies + serve + notebook extras;
    requirements-dev.txt adds the dev extra."""
    project = PYPROJECT["project"]
    extras = project["optional-dependencies"]
    runtime = _specs(project["dependencies"] + extras["serve"] + extras["notebook"])
    assert _requirements(ROOT / "requirements.txt") == runtime
    dev = _specs(d for d in extras["dev"] if not d.startswith("aasist["))
    assert _requirements(ROOT / "requirements-dev.txt") == {**runtime, **dev}
    assert "aasist[serve,notebook]" in extras["dev"]
    assert _specs(extras["export"]).items() <= dev.items()  # the dev setup can export


def test_console_script_version_and_every_package_listed():
    project, tools = PYPROJECT["project"], PYPROJECT["tool"]["setuptools"]
    assert project["scripts"] == {"aasist": "aasist.cli:main"}
    assert project["dynamic"] == ["version"]
    assert tools["dynamic"]["version"] == {"attr": "aasist.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", aasist.__version__)
    packages = {".".join(p.relative_to(ROOT).parts[:-1]) for p in PACKAGE.rglob("__init__.py")}
    assert set(tools["packages"]) == packages | {"aasist.configs"}
    assert tools["package-dir"] == {"aasist.configs": "config"}
    data = PYPROJECT["tool"]["setuptools"]["package-data"]
    assert "*.pth" in data["aasist.pretrained"] and "*.conf" in data["aasist.configs"]


def test_bundled_configs_are_addressable_by_name():
    from aasist.config import bundled_configs, config_path, load_config

    names = bundled_configs()
    assert set(names) == {p.stem for p in (ROOT / "config").glob("*.conf")}
    assert config_path("mini") == names["mini"] == config_path("mini.conf")
    assert load_config("mini") == load_config(ROOT / "config" / "mini.conf")
    assert load_config("AASIST-L", ["num_epochs=3"]).num_epochs == 3
    with pytest.raises(aasist.ConfigError, match="bundled config: .*AASIST-L.*mini"):
        load_config("no-such-recipe")


# --------------------------------------------------------------------------- the house


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Modules of the package that ``name`` imports, anywhere in the file (lazy imports too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "aasist"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").split(".")[0] == "aasist":
                module = node.module
            else:
                continue
            for alias in node.names:  # `from . import runtime` imports a module
                found.add(f"{module}.{alias.name}" if f"{module}.{alias.name}" in known else module)
    return {m for m in found if m in known} - {name}


def _floor(module: str) -> int:
    parts = module.split(".")
    return FLOORS[parts[1] if len(parts) > 1 else "__init__"]


def test_every_module_has_a_floor():
    assert {m.split(".")[1] if "." in m else "__init__" for m in _modules()} <= set(FLOORS)


def test_no_upward_imports_and_no_import_loops():
    modules = _modules()
    graph = {name: _imports_of(name, path, set(modules)) for name, path in modules.items()}
    upward = [f"{a} (floor {_floor(a)}) imports {b} (floor {_floor(b)})"
              for a, targets in graph.items() for b in targets if _floor(b) > _floor(a)]
    assert not upward, "\n".join(upward)
    # a loop is a strongly connected set of more than one module (Tarjan)
    index, low, stack, on_stack, loops = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                loops.append(sorted(group))

    for v in graph:
        if v not in index:
            visit(v)
    assert not loops, loops


def test_the_networks_need_nothing_but_torch():
    """aasist.nn: torch, numpy and the mel formula only; no files, no environment."""
    for path in (PACKAGE / "nn").glob("*.py"):
        tree = ast.parse(path.read_text())
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported.add(node.module.split(".")[0])
            elif isinstance(node, ast.ImportFrom) and node.level == 2:
                imported.add(f"aasist.{node.module}")
        assert imported <= {"__future__", "dataclasses", "typing", "random", "numpy", "torch",
                            "aasist.melscale"}, (path.name, imported)
        text = "".join(ast.get_source_segment(path.read_text(), n) or "" for n in tree.body
                       if not isinstance(n, ast.Expr))  # the code, not the module docstring
        assert "environ" not in text and "getenv" not in text and "open(" not in text, path.name


def test_no_module_reads_the_environment_at_import():
    """os.environ / os.getenv only inside functions: importing reads no variable."""
    offenders = []
    for name, path in _modules().items():
        tree = ast.parse(path.read_text())
        for stmt in tree.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            nodes = [stmt] if not isinstance(stmt, ast.ClassDef) else [
                s for s in stmt.body if not isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))]
            for node in nodes:
                for sub in ast.walk(node):
                    if isinstance(sub, ast.Attribute) and sub.attr in ("environ", "getenv"):
                        offenders.append(f"{name}:{sub.lineno}")
    assert not offenders, offenders


@pytest.mark.slow
def test_import_changes_no_process_state():
    """Importing every module (and the lazy exports) calls no mallopt, loads no libc, changes
    no environment variable and no torch thread setting."""
    code = r"""
import ctypes, importlib, json, os, pkgutil, sys
import torch
calls = []
real = ctypes.CDLL
class Spy(real):
    def __init__(self, name, *a, **k):
        calls.append(str(name))
        super().__init__(name, *a, **k)
ctypes.CDLL = Spy
env = dict(os.environ)
threads = (torch.get_num_threads(), torch.get_num_interop_threads())
import aasist
for m in pkgutil.walk_packages(aasist.__path__, "aasist."):
    if not m.name.endswith("__main__"):
        importlib.import_module(m.name)
for name in aasist.__all__:
    getattr(aasist, name)
import aasist.runtime as r
print(json.dumps({"cdll": calls, "env_same": dict(os.environ) == env,
                  "threads_same": (torch.get_num_threads(), torch.get_num_interop_threads()) == threads,
                  "malloc_tuned": r.malloc_tuned}))
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    state = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not [c for c in state["cdll"] if "libc" in c], state
    assert state == {**state, "env_same": True, "threads_same": True, "malloc_tuned": False}


def test_the_command_line_applies_the_process_settings(monkeypatch, capsys):
    """What import does not do, `aasist` does at start-up (and honours AASIST_MALLOC_TUNING=0)."""
    from aasist import cli, runtime

    applied = []
    monkeypatch.setattr(runtime, "apply", applied.append)
    monkeypatch.setenv("AASIST_MALLOC_TUNING", "0")
    monkeypatch.setenv("AASIST_SELU", "exp")
    assert cli.main(["metrics", "--scores", str(ROOT / "tests" / "data" / "la_eval_like" /
                                                 "cm_scores.txt")]) == 0
    assert applied == [runtime.Settings(selu="exp", malloc_tuning=False)]


# --------------------------------------------------------------------------- installed


@pytest.mark.slow
@pytest.mark.slow
def test_an_installed_copy_works_outside_the_clone(tmp_path):
    """`pip install <clone>` (not editable), then from another folder: the console script,
    a bundled config by name, and the official AASIST-L score of a clip."""
    # --target: this interpreter's torch and the rest stay as they are; the copy goes first
    # on PYTHONPATH, ahead of any editable install of the clone
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--no-build-isolation", "--target", str(site), str(ROOT)], check=True,
                   cwd=tmp_path, timeout=600, env={**os.environ, "PIP_NO_INDEX": "1"})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    ref = np.load(PARITY)
    sf.write(elsewhere / "clip.wav", ref["input"][0], 16000, subtype="FLOAT")
    env = {**os.environ, "PYTHONPATH": str(site)}
    aasist_cmd = str(site / "bin" / "aasist")

    def run(*args):
        proc = subprocess.run([*args], cwd=elsewhere, capture_output=True, text=True, env=env,
                              timeout=300)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    assert "predict" in run(aasist_cmd, "--help")
    where = run(sys.executable, "-c", "import aasist, aasist.config as c; print(aasist.__file__); "
                               "print(c.config_path('mini'))").split()
    assert all(w.startswith(str(site)) for w in where), where  # the installed copy, not the clone
    result = json.loads(run(aasist_cmd, "predict", "--quiet", "clip.wav"))
    assert result["score"] == pytest.approx(float(ref["AASIST-L/logits"][0, 1]), abs=1e-3)
