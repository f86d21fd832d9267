"""The notebook executes top to bottom, headless, with its default parameters."""
from __future__ import annotations

import ast
import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath

import nbclient
import nbformat
import pytest

from conftest import ROOT

NOTEBOOK = ROOT / "Audio Deepfake Detection.ipynb"


def test_notebook_is_committed_clean():
    """No outputs or execution counts in the repository: every reader runs it fresh."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and "parameters" in code[0].metadata.get("tags", [])
    stale = [i for i, c in enumerate(code) if c.outputs or c.execution_count is not None]
    assert not stale, f"code cells {stale} hold outputs; clear them before committing"


# Paths the notebook creates itself (relative to the repository, where it runs), and why;
# every other path it names must be a tracked file or folder of the repository.
CREATED_BY_THE_NOTEBOOK = {
    "aasist-repo": "the clone target, only where the repository is not here (Colab)",
    "runs": "the output folder: train() writes the run directory under it",
    "runs/notebook_examples.png": "written by plots.plot_examples",
}
# Calls whose first argument names a config (a .conf file or a bundled name).
CONFIG_CALLS = {"load_config", "Detector"}
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_FILE_NAME = re.compile(r"^[^\s=:{}]*[^\s=:{}/.]\.[A-Za-z0-9]{1,5}$")  # name.ext, maybe in folders


def _cell_trees(sources: list[str]) -> list[ast.Module]:
    """Each code cell as Python (IPython `!`/`%` lines blanked)."""
    return [ast.parse("\n".join("" if line.lstrip().startswith(("!", "%")) else line
                                for line in source.splitlines())) for source in sources]


def _callee(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _literal_parts(node: ast.AST) -> list[str]:
    """The constant text of a str literal or of an f-string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return [v.value for v in node.values if isinstance(v, ast.Constant)]
    return []


def _is_pathlike(text: str) -> bool:
    if not text or _URL.match(text) or any(c.isspace() for c in text):
        return False
    return "/" in text or "\\" in text or text in (".", "..") or text.startswith("~") \
        or bool(_FILE_NAME.match(text))


def _escapes(text: str) -> str | None:
    """Why ``text`` (a path, or the constant start of one) leaves the repository, or None."""
    posix = text.replace("\\", "/")
    if posix.startswith(("/", "~")) or re.match(r"^[A-Za-z]:/", posix):
        return "absolute"
    if ".." in PurePosixPath(posix).parts:
        return "climbs out with '..'"
    return None


def _tracked() -> set[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True)
    files = {f for f in out.stdout.split("\0") if f}
    folders = {str(PurePosixPath(f).parents[i]) for f in files for i in range(len(PurePosixPath(f).parts) - 1)}
    return files | folders | {"."}


def _path_problems(sources: list[str], tracked: set[str]) -> list[str]:
    """What is wrong with the paths a notebook's code cells name (no execution)."""
    from aasist import pretrained
    from aasist.config import config_path

    problems = []
    for cell, tree in enumerate(_cell_trees(sources)):
        nodes = list(ast.walk(tree))
        # literals placed under a folder known only at run time: `run_dir / "x"`, or loop
        # variables used that way (`for name in ("a.png", ...): run_dir / name`)
        joined_names = {n.right.id for n in nodes if isinstance(n, ast.BinOp)
                        and isinstance(n.op, ast.Div) and isinstance(n.right, ast.Name)}
        runtime = {id(n.right) for n in nodes if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div)
                   and not _literal_parts(n.left) and _literal_parts(n.right)}
        for loop in (n for n in nodes if isinstance(n, (ast.For, ast.comprehension))):
            if isinstance(loop.target, ast.Name) and loop.target.id in joined_names:
                runtime |= {id(n) for n in ast.walk(loop.iter)}
        # literals in a path position: open(...)/Path(...)/os.chdir(...) arguments, `/` operands
        in_path_position = {id(a) for n in nodes if isinstance(n, ast.Call)
                            and _callee(n) in ("open", "Path", "chdir") for a in n.args}
        in_path_position |= {id(side) for n in nodes if isinstance(n, ast.BinOp)
                             and isinstance(n.op, ast.Div) for side in (n.left, n.right)}
        # an f-string's own pieces and format specs (":6.2f") are read through the f-string
        pieces = {id(v) for n in nodes if isinstance(n, ast.JoinedStr) for v in n.values}
        pieces |= {id(c) for n in nodes if isinstance(n, ast.FormattedValue) and n.format_spec
                   for c in ast.walk(n.format_spec)}
        for node in nodes:
            parts = [] if id(node) in pieces else _literal_parts(node)
            if not parts or not (id(node) in in_path_position or any(map(_is_pathlike, parts))):
                continue
            where = f"cell {cell} line {node.lineno}: {ast.unparse(node)}"
            starts_with_text = isinstance(node, ast.Constant) or (
                node.values and isinstance(node.values[0], ast.Constant))
            why = (_escapes(parts[0]) if starts_with_text else None) or next(
                filter(None, (_escapes(p) if ".." in p else None for p in parts)), None)
            if why:
                problems.append(f"{where} is {why}")
            elif isinstance(node, ast.Constant) and id(node) not in runtime:
                rel = str(PurePosixPath(node.value.replace("\\", "/")))
                if rel not in tracked and rel not in CREATED_BY_THE_NOTEBOOK:
                    problems.append(f"{where} is not a file or folder of the repository "
                                    f"(nor listed in CREATED_BY_THE_NOTEBOOK)")
        # config names: literal first arguments of load_config/Detector, or literals
        # assigned to the variable passed there (`config_path = CONFIG or "mini"`)
        config_vars = {n.args[0].id for n in nodes if isinstance(n, ast.Call) and _callee(n) in CONFIG_CALLS
                       and n.args and isinstance(n.args[0], ast.Name)}
        names = [n.args[0] for n in nodes if isinstance(n, ast.Call) and _callee(n) in CONFIG_CALLS
                 and n.args and isinstance(n.args[0], ast.Constant)]
        names += [c for n in nodes if isinstance(n, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id in config_vars for t in n.targets)
                  for c in ast.walk(n.value) if isinstance(c, ast.Constant) and isinstance(c.value, str)]
        for node in names:
            found = Path(config_path(node.value)).resolve()
            if not (found.is_file() and found.is_relative_to(ROOT)
                    and str(found.relative_to(ROOT)) in tracked):
                problems.append(f"cell {cell} line {node.lineno}: config {node.value!r} is no "
                                f"config of the repository ({found})")
        # bundled weights named "official:NAME"
        for node in nodes:
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and node.value.startswith("official:"):
                weights = Path(pretrained.official(node.value.split(":", 1)[1]).weights).resolve()
                if not (weights.is_relative_to(ROOT) and str(weights.relative_to(ROOT)) in tracked):
                    problems.append(f"cell {cell} line {node.lineno}: {node.value} is not bundled "
                                    f"in the repository ({weights})")
        # the repository's own modules it imports (aasist, scripts, experiments) are its files
        for node in nodes:
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            else:
                continue
            for module in modules:
                if module.split(".")[0] in ("aasist", "scripts", "experiments"):
                    base = module.replace(".", "/")
                    if f"{base}.py" not in tracked and f"{base}/__init__.py" not in tracked:
                        problems.append(f"cell {cell} line {node.lineno}: module {module} is no "
                                        f"file of the repository")
    return problems


def _code_sources() -> list[str]:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code"]


def test_notebook_reads_nothing_outside_the_repository():
    """Every path the notebook's code names is relative and stays in the repository; the
    files and folders it reads (configs, bundled weights, modules, requirements.txt) are
    tracked files of the repository; the rest it creates itself."""
    import inspect

    from scripts.install_requirements import ensure

    tracked = _tracked()
    sources = _code_sources()
    problems = _path_problems(sources, tracked)
    assert not problems, "\n".join(problems)
    # the declared outputs are really named by the notebook (the list does not rot)
    literals = {n.value for tree in _cell_trees(sources) for n in ast.walk(tree)
                if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    assert set(CREATED_BY_THE_NOTEBOOK) <= literals
    assert not any(_escapes(p) for p in CREATED_BY_THE_NOTEBOOK)
    # the setup cell calls ensure() with its default: the repository's requirements.txt
    assert any("ensure()" in s for s in sources)
    default = Path(inspect.signature(ensure).parameters["requirements"].default).resolve()
    assert default == ROOT / "requirements.txt" and "requirements.txt" in tracked


def test_the_notebook_path_check_flags_paths_outside_the_repository():
    tracked = _tracked()
    good = ['Path("runs") / f"run-{1}"', 'import aasist.data.mini', 'aasist.load_config("mini")',
            'open("requirements.txt")', 'x = "config/AASIST-L.conf"']
    assert _path_problems(good, tracked) == []
    bad = {'open("/data/LA/x.flac")': "absolute", 'Path("../LA")': "'..'",
           'p = "~/corpora/LA"': "absolute", 'f"/mnt/{x}/scores.txt"': "absolute",
           'd / "../../etc/passwd"': "'..'", 'open("config/NoSuchConfig.conf")': "not a file",
           'aasist.load_config("NoSuchConfig")': "no config", 'from experiments.nowhere import f':
           "no file", 'for n in ("a.png",): print(n)': "not a file",
           'x = "official:AASIST-L"; Path("weights/best.pth")': "not a file"}
    for source, why in bad.items():
        problems = _path_problems([source], tracked)
        assert len(problems) == 1 and why in problems[0], (source, problems)


@pytest.mark.slow
@pytest.mark.notebook
def test_notebook_runs_headless_on_the_mini_corpus(tmp_path, monkeypatch):
    # Offline: pip may not reach an index (the setup cell must find every requirement present).
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # Like papermill: a cell after the tagged parameters cell overrides them. Four epochs keep
    # CI short; the full 12-epoch demo is what the README's main command runs.
    first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells.insert(first + 1, nbformat.v4.new_code_cell('OVERRIDES = ["num_epochs=4"]'))
    client = nbclient.NotebookClient(nb, timeout=1200, kernel_name="python3",
                                     resources={"metadata": {"path": str(ROOT)}})
    client.execute()
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "every requirement of requirements.txt is installed" in text
    assert "CM EER" in text and "trained in" in text and "eval EER: clean" in text
    shutil.copy(NOTEBOOK, tmp_path / "executed.ipynb")  # for inspection when debugging
    nbformat.write(nb, tmp_path / "executed.ipynb")
