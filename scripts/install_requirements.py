#!/usr/bin/env python
"""Install what requirements.txt lists and this Python lacks, keeping an installed torch as it is.

    python scripts/install_requirements.py [--dev]

When every listed distribution is already installed nothing runs (no network). Otherwise pip
installs the file with the installed torch, if any, held at its exact version by a constraint,
so Colab's CUDA build (say) is never replaced. Used by the notebook's setup cell.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def requirement_names(path: Path) -> list[str]:
    """Distribution names listed in a requirements file, following ``-r`` includes."""
    names = []
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("-r"):
            names += requirement_names(path.parent / line[2:].strip())
        elif line and not line.startswith("-"):
            names.append(re.split(r"[<>=!~\[; ]", line)[0])
    return names


def missing(path: Path) -> list[str]:
    """The distributions of ``path`` that are not installed at all (versions are not checked)."""
    out = []
    for name in requirement_names(path):
        try:
            version(name)
        except PackageNotFoundError:
            out.append(name)
    return out


def pip_command(requirements: Path, constraints: Path | None) -> list[str]:
    cmd = [sys.executable, "-m", "pip", "install", "-r", str(requirements)]
    return cmd + (["-c", str(constraints)] if constraints else [])


def installed_torch() -> str | None:
    try:
        return version("torch")
    except PackageNotFoundError:
        return None


def ensure(requirements: Path = ROOT / "requirements.txt") -> None:
    """Install what ``requirements`` lists and is missing; raises RuntimeError if pip fails."""
    absent = missing(requirements)
    if not absent:
        print(f"every requirement of {requirements.name} is installed")
        return
    print(f"installing {', '.join(absent)} (and what they need)")
    torch_version = installed_torch()
    with tempfile.TemporaryDirectory() as tmp:
        constraints = None
        if torch_version:
            constraints = Path(tmp) / "keep-torch.txt"
            constraints.write_text(f"torch=={torch_version}\n")
            print(f"keeping the installed torch {torch_version}")
        if subprocess.run(pip_command(requirements, constraints)).returncode != 0:
            raise RuntimeError(f"pip could not install {requirements.name} (its output is above)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", action="store_true", help="requirements-dev.txt (tests) too")
    args = parser.parse_args(argv)
    try:
        ensure(ROOT / ("requirements-dev.txt" if args.dev else "requirements.txt"))
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
