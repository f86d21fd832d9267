"""Models with weights: the bundled checkpoints, and building and loading any model.

``AASIST.pth`` and ``AASIST-L.pth`` are the pretrained weights published by clovaai/aasist
(Copyright (c) 2021-present NAVER Corp., MIT licence, see ``LICENSE`` in this folder), each
next to the ``.conf`` it was trained with. They are small (1.3 MB and 0.4 MB), so predict,
evaluate, stream and serve work offline with no download::

    model = get_model("AASIST-L")                     # eval mode, on the CPU
    model = build_model(load_config("mini")["model_config"])   # a fresh one
    load_weights(model, "runs/mini/weights/last.pth")

A *weights reference* is either a path to a ``.pth`` file or ``official:NAME`` (NAME in
:data:`OFFICIAL`); :func:`resolve` turns a (config, weights) pair as a user gives it, each
possibly missing, into files on disk. Every model built here gets the kernels that run
fastest on its device (:func:`aasist.runtime.kernels_for`).
"""
from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Union

import torch

from .. import runtime
from ..config import Config, config_path, load_config, validate_model_config
from ..errors import ConfigError, DataError
from ..nn import build_network

PathLike = Union[str, "os.PathLike[str]"]

FOLDER = Path(__file__).resolve().parent
PREFIX = "official:"
DEFAULT = "AASIST-L"  # the smaller model: same decisions, a quarter of the compute


@dataclass(frozen=True)
class Checkpoint:
    """One bundled checkpoint: its weights, the config it was trained with, its SHA-256."""

    name: str
    sha256: str

    def get_model(self, device: str | torch.device = "cpu") -> torch.nn.Module:
        """The model with these weights, in eval mode on ``device``."""
        return load_model(weights=PREFIX + self.name, device=device)

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
                          f"them with `aasist download --pretrained`")
    return model_path


def resolve(config: Optional[PathLike] = None,
            weights: Optional[PathLike] = None) -> tuple[Path, Path]:
    """(config, weights) as a user gives them, either possibly None -> (config file, weights file).

    * neither: the bundled official AASIST-L and its config;
    * ``weights="official:NAME"``: that bundled checkpoint, with its config unless one is given;
    * a weights file and no config: the config of the official checkpoint with the same bytes,
      else the ``config.conf`` of the training run the file belongs to (``RUN/weights/x.pth``
      or ``RUN/checkpoint.pt``);
    * a config and no weights: the config's ``model_path`` (as the official ``--eval``
      does), else an error, since a config alone is an untrained model.
    """
    if config is not None:
        config = config_path(config)  # a bundled config's name -> its file
    if weights is None and config is not None:
        weights = _model_path(config)
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
    for run_config in (path.resolve().parent.parent / "config.conf",   # RUN/weights/x.pth
                       path.resolve().parent / "config.conf"):         # RUN/checkpoint.pt
        if run_config.is_file() and (path.parent.name == "weights"
                                     or run_config.parent == path.resolve().parent):
            return run_config, path
    raise ConfigError(f"{path}: which config was it trained with? pass --config (the run's "
                      f"config.conf, or config/<name>.conf)")


def resolve_config(config: Optional[PathLike] = None, weights: Optional[PathLike] = None,
                   overrides: Iterable[str] = ()) -> tuple[Config, Path]:
    """Like :func:`resolve`, with the config loaded (``KEY=VALUE`` overrides applied)."""
    config_path, weights_path = resolve(config, weights)
    return load_config(config_path, overrides), weights_path


def get_model(name: str = DEFAULT, device: str | torch.device = "cpu") -> torch.nn.Module:
    """The bundled model ``name`` (``"AASIST-L"``, ``"AASIST"``), in eval mode on ``device``."""
    return official(name.removeprefix(PREFIX)).get_model(device)


def build_model(model_config: Mapping[str, Any], device: str | torch.device | None = None
                ) -> torch.nn.Module:
    """A freshly initialised network from a config's ``model_config`` (checked by the config
    validator: ConfigError if invalid), on ``device`` (default CPU) with the kernels that run
    fastest there."""
    model_config = validate_model_config(model_config)
    device = torch.device(device or "cpu")
    return build_network(model_config, runtime.kernels_for(device)).to(device)


def load_weights(model: torch.nn.Module, path: PathLike, strict: bool = True) -> torch.nn.Module:
    """Load a state_dict (official checkpoint, ours, or a run's checkpoint.pt) onto ``model``'s device.

    ``path`` may also be ``official:AASIST`` / ``official:AASIST-L`` (the bundled checkpoints).
    The official files were saved from CUDA tensors; they are mapped to wherever the model
    lives, so they load on CPU-only machines too.
    """
    text = os.fspath(path)
    path = official(text[len(PREFIX):]).weights if text.startswith(PREFIX) else Path(text)
    if not path.is_file():
        state = "is a folder" if path.is_dir() else "not found"
        raise DataError(f"{path}: weights {state}; give a .pth file, or "
                        f"{PREFIX}{DEFAULT} for the bundled official weights")
    device = next(model.parameters()).device
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as exc:
        # a truncated, empty or non-torch file: say which file, and what went wrong
        if "numpy" in str(exc) and path.name == "checkpoint.pt":
            raise DataError(f"{path}: a training checkpoint from aasist 0.1, which holds NumPy "
                            f"state that is not loaded safely; pass its run's weights instead: "
                            f"{path.parent / 'weights' / 'best_dev.pth'} (or swa.pth / "
                            f"last.pth)") from exc
        raise DataError(f"{path}: not a readable PyTorch checkpoint ({_reason(exc)}); give the "
                        f".pth file a training run wrote (RUN/weights/*.pth, RUN/checkpoint.pt) "
                        f"or an official checkpoint") from exc
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]  # a training checkpoint.pt: take its model weights
    if not isinstance(state, Mapping):
        raise DataError(f"{path}: holds a {type(state).__name__}, not a state_dict of weights")
    try:
        model.load_state_dict(state, strict=strict)
    except RuntimeError as exc:
        lines = str(exc).splitlines()
        first = lines[1].strip() if len(lines) > 1 else str(exc)
        raise DataError(f"{path}: weights do not fit this model config ({first}); "
                        f"use the config the weights were trained with") from exc
    return model


def _reason(exc: BaseException) -> str:
    """What went wrong in a failed ``torch.load``, in a few words (its class included)."""
    text = str(exc)
    if "WeightsUnpickler error:" in text:  # torch's long advice, around the actual reason
        text = text.split("WeightsUnpickler error:", 1)[1].split("Check the documentation")[0]
    text = " ".join(text.split())
    if not text and isinstance(exc, EOFError):
        text = "the file ends early: empty or truncated"
    return f"{exc.__class__.__name__}: {text[:200]}" if text else exc.__class__.__name__


def load_model(config: Optional[PathLike] = None, weights: Optional[PathLike] = None,
               device: str | torch.device = "cpu", overrides: Iterable[str] = ()) -> torch.nn.Module:
    """Config file (or bundled name) + weights -> model in eval mode on ``device``.

    With neither given: the bundled official AASIST-L. ``weights="official:AASIST"`` picks
    the other bundled checkpoint (and its config); see :func:`resolve` for how a missing
    config is found.
    """
    config, weights_path = resolve_config(config, weights, overrides)
    return load_weights(build_model(config.model_config, device), weights_path).eval()


def interpolate_weights(model_config: Mapping[str, Any], a: PathLike, b: PathLike,
                        alpha: float = 0.5) -> torch.nn.Module:
    """A model whose weights are ``(1 - alpha) * a + alpha * b``, parameters and BatchNorm
    statistics alike (integer counters from ``b``); ``a`` and ``b`` as :func:`load_weights` takes.

    Two fine-tunes of the same model (say on clean and on augmented audio) usually stay in one
    basin, so their weight average behaves much like an ensemble of both at the cost of one
    model ("model soups", Wortsman et al., ICML 2022).
    """
    if not 0 <= alpha <= 1:
        raise ConfigError(f"alpha must be between 0 and 1, got {alpha}")
    first = load_weights(build_model(model_config), a)
    second = load_weights(build_model(model_config), b).state_dict()
    mixed = {k: torch.lerp(v, second[k], alpha) if v.is_floating_point() else second[k]
             for k, v in first.state_dict().items()}
    first.load_state_dict(mixed)
    return first


__all__ = ["DEFAULT", "OFFICIAL", "PREFIX", "Checkpoint", "build_model", "get_model",
           "interpolate_weights", "load_model", "load_weights", "official", "resolve",
           "resolve_config", "sha256_of"]
