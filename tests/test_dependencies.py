"""Every module imports, and every third-party import is declared in a requirements file.

The second test reads the imports of aasist/, scripts/, experiments/ and the notebook statically, so it
fails on a missing requirement even on a machine where that package happens to be
installed by hand.
"""
from __future__ import annotations

import argparse
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


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Every subcommand of ``parser`` by name (aliases included)."""
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


@pytest.mark.slow
def test_the_command_line_starts(capsys):
    from aasist import cli

    commands = _subcommands(cli.build_parser())
    assert {"train", "evaluate", "predict", "stream", "serve", "download"} <= set(commands)

    # `python -m aasist --help` (one real process: the entry point, its imports) lists them all
    proc = subprocess.run([sys.executable, "-m", "aasist", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: aasist"), proc.stdout
    for name in commands:
        assert re.search(rf"^ +{re.escape(name)}(\s|$)", proc.stdout, re.M), f"{name} not listed:\n{proc.stdout}"

    # each `aasist <cmd> --help` parses and prints its usage (in-process, to stay fast)
    for name, sub in commands.items():
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            cli.main([name, "--help"])
        assert exit_info.value.code == 0, name
        out = capsys.readouterr().out
        assert out.startswith(f"usage: aasist {name}"), out
        for nested in (_subcommands(sub) if any(isinstance(a, argparse._SubParsersAction)
                                                for a in sub._actions) else {}):
            with pytest.raises(SystemExit) as exit_info:
                cli.main([name, nested, "--help"])
            assert exit_info.value.code == 0, (name, nested)
            assert capsys.readouterr().out.startswith(f"usage: aasist {name} {nested}")

    # `aasist --version` names the package's version
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"aasist {aasist.__version__}"


def test_every_command_handler_is_reachable():
    """Each `_cmd_*` function of aasist.cli is what some (sub)command runs: a handler that
    no parser sets as its ``func`` is a command the user cannot call."""
    from aasist import cli

    wired, parsers = set(), [cli.build_parser()]
    while parsers:
        parser = parsers.pop()
        func = parser.get_default("func")
        if func is not None:
            wired.add(func.__name__)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers += list(action.choices.values())
    handlers = {name for name in vars(cli) if name.startswith("_cmd_") and callable(getattr(cli, name))}
    assert handlers, "no _cmd_* handlers found in aasist.cli"
    assert handlers <= wired, f"handlers no command reaches: {sorted(handlers - wired)}"


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
