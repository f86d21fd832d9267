"""Shared test helpers: paths to the repository's own reference data and bundled weights."""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest

from aasist import cli, pretrained
from aasist.data.corpora import CORPORA, get_corpus
from aasist.data.mini import make_mini

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / "config"
DATA = ROOT / "tests" / "data"
# Outputs of the official clovaai/aasist model (commit 8ec9164, eval mode, torch 2.11 on CPU)
# for three 64,600-sample inputs, with the official checkpoints: `input`, `<name>/logits`,
# `<name>/hidden`.
PARITY = DATA / "aasist_parity.npz"
# A CM and an ASV score file with the metrics the official ASVspoof 2019 code computes
# for them (expected.json).
LA_EVAL_LIKE = DATA / "la_eval_like"


def official_weights(name: str) -> Path:
    """The bundled official checkpoint ``name`` ("AASIST" or "AASIST-L")."""
    return pretrained.official(name).weights


def load_script(name: str, folder: str = "scripts"):
    """Import ``<folder>/<name>`` (``scripts/`` or ``experiments/``) as the module
    ``<folder>.<stem>`` (its ``main`` runs only under ``__main__``), to call its functions
    or ``main(argv)`` in-process."""
    import importlib

    return importlib.import_module(f"{folder}.{Path(name).stem}")


#: (bona fide, spoof) utterances per split of each corpus's mini copy.
MINI_SIZES = {name: dict(corpus.mini_sizes) for name, corpus in CORPORA.items()}


def make_mini_corpus(name: str, dest, seed: int = 0, sizes=None) -> Path:
    """The mini corpus in ``name``'s layout under ``dest``; returns the corpus folder."""
    return get_corpus(name).make_mini(dest, seed=seed, sizes=sizes)


def tiny_corpus(dest: Path, seed: int, train=(4, 8), dev=(6, 12), eval=(6, 18)) -> Path:
    """A generated LA-format corpus with (bona fide, spoof) utterances per split; returns LA/."""
    make_mini(dest, seed=seed, sizes={"train": train, "dev": dev, "eval": eval}, progress=False)
    return dest / "LA"


class CliResult(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


def run_cli(capsys, *argv) -> CliResult:
    """`python -m aasist ARGV`, in this process (no torch import per call): code, stdout, stderr."""
    capsys.readouterr()  # drop what earlier steps printed
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return CliResult(code, out, err)


def loss_before_and_after_steps(model, device, *, amp: bool = False, freq_aug: bool = False,
                                steps: int = 5) -> tuple[float, float]:
    """Eval-mode weighted cross-entropy on a fixed (4, 8000) batch before and after ``steps``
    Adam steps on it (AMP via aasist.runtime.autocast; a GradScaler only for fp16)."""
    import torch

    from aasist.runtime import autocast

    torch.manual_seed(0)
    model.to(device).train()
    x, y = torch.randn(4, 8000).to(device), torch.tensor([0, 1, 0, 1], device=device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    weight = torch.tensor([0.1, 0.9], device=device)
    fp16 = amp and device.type == "cuda" and not torch.cuda.is_bf16_supported()
    scaler = torch.amp.GradScaler(device.type, enabled=fp16)

    def loss_now() -> float:
        model.eval()
        with torch.no_grad():
            value = torch.nn.functional.cross_entropy(model(x), y, weight=weight).item()
        model.train()
        return value

    before = loss_now()
    for _ in range(steps):
        opt.zero_grad()
        with autocast(device, amp):
            logits = model(x, freq_aug=freq_aug)
        scaler.scale(torch.nn.functional.cross_entropy(logits.float(), y, weight=weight)).backward()
        scaler.step(opt)
        scaler.update()
    return before, loss_now()


def pytest_collection_modifyitems(items):
    """The fast tier is exactly `-m "not slow"`: browser and notebook tests are slow too."""
    for item in items:
        kinds = {m.name for m in item.iter_markers()}
        if kinds & {"browser", "notebook"} and "slow" not in kinds:
            raise pytest.UsageError(f"{item.nodeid} is marked {sorted(kinds & {'browser', 'notebook'})} "
                                    f"but not slow; add @pytest.mark.slow")
