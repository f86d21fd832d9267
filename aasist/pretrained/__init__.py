"""The official AASIST and AASIST-L checkpoints, bundled with the package.

``AASIST.pth`` and ``AASIST-L.pth`` are the pretrained weights published by clovaai/aasist
(Copyright (c) 2021-present NAVER Corp., MIT licence, see ``LICENSE`` in this folder), each
next to the ``.conf`` it was trained with. They are small (1.3 MB and 0.4 MB), so predict,
evaluate, stream and serve work offline with no download.

A *weights reference* is either a path to a ``.pth`` file or ``official:NAME`` (NAME in
:data:`OFFICIAL`); :func:`resolve` turns a (config, weights) pair as a user gives it, each
possibly missing, into files on disk.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Union

from ..config import load_config
from ..errors import ConfigError

PathLike = Union[str, "os.PathLike[str]"]

FOLDER = Path(__file__).resolve().parent
PREFIX = "official:"
DEFAULT = "AASIST-L"  # the smaller model: same decisions, a quarter of the compute


@dataclass(frozen=True)
class Checkpoint:
    """One bundled checkpoint: its weights, the config it was trained with, its SHA-256."""

    name: str
    sha256: str

    @property
    def weights(self) -> Path:
        return FOLDER / f"{self.name}.pth"

    @property
    def config(self) -> Path:
        return FOLDER / f"{self.name}.conf"


#: The upstream files' SHA-256, as published in clovaai/aasist (models/weights/).
OFFICIAL = {
    "AASIST": Checkpoint("AASIST", "51d2d9cf0738172f61e2a384ec50a54a55363240f67c971ed55a92435bc1a1c0"),
    "AASIST-L": Checkpoint("AASIST-L", "814331d088032bb4c3fa61cc014789eadeed464209dd094ab3a2dd6ffbdce27a"),
}


def sha256_of(path: PathLike) -> str:
    """Hex SHA-256 of a file (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def official(name: str) -> Checkpoint:
    """The bundled checkpoint called ``name`` (``"AASIST"`` or ``"AASIST-L"``)."""
    if name not in OFFICIAL:
        raise ConfigError(f"unknown official checkpoint {name!r}; valid: "
                          + ", ".join(PREFIX + n for n in OFFICIAL))
    return OFFICIAL[name]


def _by_hash(path: Path) -> Optional[Checkpoint]:
    """The bundled checkpoint whose bytes ``path`` holds, if any (a downloaded copy, say)."""
    digest = sha256_of(path)
    return next((c for c in OFFICIAL.values() if c.sha256 == digest), None)


def _model_path(config: Path) -> str:
    """The ``model_path`` of a config file, or an error saying what to pass instead."""
    model_path = load_config(config).get("model_path") or ""
    if not model_path:
        raise ConfigError(f"{config}: no weights given and the config sets no model_path; pass "
                          f"--weights (the weights trained with it), or drop --config to use the "
                          f"bundled {PREFIX}{DEFAULT}")
    if not Path(model_path).is_file() and not model_path.startswith(PREFIX):
        raise ConfigError(f"{config}: its model_path {model_path} does not exist; pass --weights, "
                          f"e.g. {PREFIX}{DEFAULT} for the bundled official weights, or fetch "
                          f"them with `python scripts/download_pretrained.py`")
    return model_path


def resolve(config: Optional[PathLike] = None,
            weights: Optional[PathLike] = None) -> tuple[Path, Path]:
    """(config, weights) as a user gives them, either possibly None -> (config file, weights file).

    * neither: the bundled official AASIST-L and its config;
    * ``weights="official:NAME"``: that bundled checkpoint, with its config unless one is given;
    * a weights file and no config: the config of the official checkpoint with the same bytes,
      else the ``config.conf`` of the training run the file belongs to (``RUN/weights/x.pth``);
    * a config and no weights: the config's ``model_path`` (as the official ``--eval``
      does), else an error, since a config alone is an untrained model.
    """
    if weights is None and config is not None:
        weights = _model_path(Path(config))
    if weights is None:
        weights = PREFIX + DEFAULT
    text = os.fspath(weights)
    if text.startswith(PREFIX):
        ckpt = official(text[len(PREFIX):])
        return (Path(config) if config is not None else ckpt.config), ckpt.weights
    path = Path(text)
    if config is not None:
        return Path(config), path
    if not path.is_file():
        raise ConfigError(f"{path}: weights not found; give a .pth file or one of "
                          + ", ".join(PREFIX + n for n in OFFICIAL))
    ckpt = _by_hash(path)
    if ckpt is not None:
        return ckpt.config, path
    run_config = path.resolve().parent.parent / "config.conf"
    if path.parent.name == "weights" and run_config.is_file():
        return run_config, path
    raise ConfigError(f"{path}: which config was it trained with? pass --config (the run's "
                      f"config.conf, or config/<name>.conf)")


def resolve_config(config: Optional[PathLike] = None, weights: Optional[PathLike] = None,
                   overrides: Iterable[str] = ()) -> tuple[dict, Path]:
    """Like :func:`resolve`, with the config loaded (``KEY=VALUE`` overrides applied)."""
    config_path, weights_path = resolve(config, weights)
    return load_config(config_path, overrides), weights_path


__all__ = ["DEFAULT", "OFFICIAL", "PREFIX", "Checkpoint", "official", "resolve", "resolve_config",
           "sha256_of"]
