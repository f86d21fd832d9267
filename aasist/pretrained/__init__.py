"""Models with weights: the bundled checkpoints, and building and loading any model.

Six pretrained models are bundled (:data:`BUNDLES`, ``aasist models`` lists them), each a
:class:`Bundle` record in the style of torchaudio's pipeline bundles: name, architecture,
config, weights file and its pinned SHA-256, training data, parameter count, the authors'
published result and its source, licence and source URL. The weights are the authors' files,
unchanged, each with its licence beside it in this folder:

* ``AASIST``, ``AASIST-L``: clovaai/aasist (ASVspoof 2019 LA; MIT, NAVER Corp., ``LICENSE``);
* ``AASIST-ASVspoof5``: the ASVspoof 5 organisers' AASIST baseline (ASVspoof 5 train; MIT,
  NAVER Corp., ``LICENSE-ASVspoof5``);
* ``RawGAT-ST-mul``, ``RawGAT-ST-add``, ``RawGAT-ST-cat``: eurecom-asp/RawGAT-ST-antispoofing
  (ASVspoof 2019 LA; MIT, EURECOM, ``LICENSE-RawGAT-ST``).

All are small (0.4-1.9 MB), so predict, evaluate, stream and serve work offline with no
download::

    model = get_model("AASIST-L")                     # eval mode, on the CPU
    model = get_model("RawGAT-ST-mul")                # any bundle by name
    model = build_model(load_config("mini")["model_config"])   # a fresh one
    load_weights(model, "runs/mini/weights/last.pth")

A *weights reference* is either a path to a ``.pth`` file or ``official:NAME`` (NAME in
:data:`BUNDLES`); a *model* (``--model NAME``) is a bundle's name, the same as weights
``official:NAME``. :func:`resolve` turns a (config, weights, model) choice as a user gives
it, each possibly missing, into files on disk. Every model built here gets the kernels that run
fastest on its device (:func:`aasist.runtime.kernels_for`).
"""
from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import dataclass, fields
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
class Bundle:
    """One bundled pretrained model: its files, what it is, where it comes from.

    ``config_name`` is a ``.conf`` file in this folder (the authors' own where they wrote
    one) or else a bundled config's name; ``weights_file`` and ``licence_file`` are files in
    this folder; ``licence`` names the licence and its holder (the full text, copyright line
    included, is in ``licence_file``). ``parameters`` counts what :func:`aasist.nn.count_parameters` counts (the
    state_dict's parameters, BatchNorm statistics excluded). ``published`` is the authors'
    result, ``published_source`` where they report it.
    """

    name: str
    architecture: str
    config_name: str
    weights_file: str
    sha256: str
    training_data: str
    parameters: int
    published: str
    published_source: str
    licence: str
    licence_file: str
    source_url: str
    sample_rate: int = 16000

    def get_model(self, device: str | torch.device = "cpu") -> torch.nn.Module:
        """The model with these weights (strict load), in eval mode on ``device``."""
        return load_model(weights=PREFIX + self.name, device=device)

    @property
    def weights(self) -> Path:
        return FOLDER / self.weights_file

    @property
    def config(self) -> Path:
        path = FOLDER / self.config_name
        return path if path.is_file() else config_path(self.config_name)

    @property
    def licence_path(self) -> Path:
        return FOLDER / self.licence_file

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data (``aasist models --json``); paths as strings."""
        return {**{f.name: getattr(self, f.name) for f in fields(self)},
                "config": str(self.config), "weights": str(self.weights)}


Checkpoint = Bundle  # the record's name before it held more than the clovaai checkpoints

_CLOVAAI = "https://github.com/clovaai/aasist"
_NAVER_MIT = "MIT, NAVER Corp."
_EURECOM_MIT = "MIT, EURECOM"
_RAWGAT = "https://github.com/eurecom-asp/RawGAT-ST-antispoofing"
_RAWGAT_COMMIT = "e3b049f79b3cd9552e66f6d0ba844cbb9399c479"
_ASV5 = "https://github.com/asvspoof-challenge/asvspoof5"
_ASV5_COMMIT = "fe23d3053a0889b305d98c9e4cadf418c213d972"
_RAWGAT_PAPER = "Tak et al., ASVspoof 2021 workshop, arXiv:2107.12710; recomputed in docs/models.md"


def _rawgat(fusion: str, sha256: str, parameters: int, eer: str) -> Bundle:
    return Bundle(
        name=f"RawGAT-ST-{fusion}", architecture="RawGAT-ST", config_name=f"RawGAT-ST-{fusion}.conf",
        weights_file=f"RawGAT-ST-{fusion}.pth", sha256=sha256,
        training_data="ASVspoof 2019 LA train", parameters=parameters,
        published=f"EER {eer} % (ASVspoof 2019 LA eval)", published_source=_RAWGAT_PAPER,
        licence=_EURECOM_MIT, licence_file="LICENSE-RawGAT-ST",
        source_url=f"{_RAWGAT}/blob/{_RAWGAT_COMMIT}/Pre_trained_models/RawGAT_ST_{fusion}/Best_epoch.pth")


#: Every bundled model by name, SHA-256 pinned (the upstream files' hashes).
BUNDLES: dict[str, Bundle] = {b.name: b for b in (
    Bundle(name="AASIST", architecture="AASIST", config_name="AASIST.conf",
           weights_file="AASIST.pth",
           sha256="51d2d9cf0738172f61e2a384ec50a54a55363240f67c971ed55a92435bc1a1c0",
           training_data="ASVspoof 2019 LA train", parameters=297_866,
           published="EER 0.83 %, min t-DCF 0.0275 (ASVspoof 2019 LA eval)",
           published_source="clovaai/aasist README, Pre-trained models",
           licence=_NAVER_MIT, licence_file="LICENSE",
           source_url=f"{_CLOVAAI}/blob/main/models/weights/AASIST.pth"),
    Bundle(name="AASIST-L", architecture="AASIST", config_name="AASIST-L.conf",
           weights_file="AASIST-L.pth",
           sha256="814331d088032bb4c3fa61cc014789eadeed464209dd094ab3a2dd6ffbdce27a",
           training_data="ASVspoof 2019 LA train", parameters=85_306,
           published="EER 0.99 %, min t-DCF 0.0309 (ASVspoof 2019 LA eval)",
           published_source="clovaai/aasist README, Pre-trained models",
           licence=_NAVER_MIT, licence_file="LICENSE",
           source_url=f"{_CLOVAAI}/blob/main/models/weights/AASIST-L.pth"),
    Bundle(name="AASIST-ASVspoof5", architecture="AASIST", config_name="AASIST-ASVspoof5.conf",
           weights_file="AASIST-ASVspoof5.pth",
           sha256="8f10fe1d1ce3ac62c19f00b86dfaf79f86f464301d23e08726b16b02edbb601c",
           training_data="ASVspoof 5 train", parameters=297_866,
           published="EER 15.2 % (ASVspoof 5 validation set)",
           published_source="asvspoof-challenge/asvspoof5 Baseline-AASIST/README.md "
                            "(commit 649393658ad8)",
           licence=_NAVER_MIT, licence_file="LICENSE-ASVspoof5",
           source_url=f"{_ASV5}/blob/{_ASV5_COMMIT}/Baseline-AASIST/models/weights/AASIST/best.pth"),
    _rawgat("mul", "8a91ce8201d42119cbfb9ebca8850e5914f1a85959b3ca962819783738c2a9e2", 440_810, "1.06"),
    _rawgat("add", "0b59dd135194db79815cc1f05203f83f59a38d9ad7ce64a20f1c69d4d285fcc9", 440_810, "1.16"),
    _rawgat("cat", "4ee991100731fab870f6c33509e753029a69cc626d4c98ceb395011d78c31d67", 445_546, "1.24"),
)}

#: The clovaai/aasist checkpoints (``aasist download --pretrained`` fetches these upstream).
OFFICIAL: dict[str, Bundle] = {n: BUNDLES[n] for n in ("AASIST", "AASIST-L")}


def sha256_of(path: PathLike) -> str:
    """Hex SHA-256 of a file (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def official(name: str) -> Bundle:
    """The bundled model called ``name`` (a key of :data:`BUNDLES`, e.g. ``"AASIST-L"``)."""
    if name not in BUNDLES:
        raise ConfigError(f"unknown official checkpoint {name!r}; valid: "
                          + ", ".join(PREFIX + n for n in BUNDLES))
    return BUNDLES[name]


def bundle(name: str) -> Bundle:
    """The bundled model ``name`` (``"RawGAT-ST-mul"``; ``"official:RawGAT-ST-mul"`` too)."""
    key = name.removeprefix(PREFIX)
    if key not in BUNDLES:
        raise ConfigError(f"unknown model {name!r}; the bundled models are: "
                          f"{', '.join(BUNDLES)} (`aasist models` lists them)")
    return BUNDLES[key]


def model_name(weights: PathLike) -> str:
    """How outputs name a model: the bundle's name for a bundled weights file, else the path."""
    text = os.fspath(weights)
    if text.startswith(PREFIX):
        return official(text[len(PREFIX):]).name
    path = Path(text)
    return next((b.name for b in BUNDLES.values() if path.resolve() == b.weights.resolve()), text)


def _by_hash(path: Path) -> Optional[Bundle]:
    """The bundled model whose bytes ``path`` holds, if any (a downloaded copy, say)."""
    digest = sha256_of(path)
    return next((c for c in BUNDLES.values() if c.sha256 == digest), None)


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


def resolve(config: Optional[PathLike] = None, weights: Optional[PathLike] = None,
            model: Optional[str] = None) -> tuple[Path, Path]:
    """(config, weights) as a user gives them, either possibly None -> (config file, weights file).

    * ``model="NAME"``: the bundled model NAME, the same as ``weights="official:NAME"``
      (giving weights too is an error);
    * neither: the bundled official AASIST-L and its config;
    * ``weights="official:NAME"``: that bundled checkpoint, with its config unless one is given;
    * a weights file and no config: the config of the official checkpoint with the same bytes,
      else the ``config.conf`` of the training run the file belongs to (``RUN/weights/x.pth``
      or ``RUN/checkpoint.pt``);
    * a config and no weights: the config's ``model_path`` (as the official ``--eval``
      does), else an error, since a config alone is an untrained model.
    """
    if model is not None:
        if weights is not None:
            raise ConfigError(f"--model {model} and --weights {os.fspath(weights)} both choose "
                              f"the weights; give one of them")
        weights = PREFIX + bundle(model).name
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
                          + ", ".join(PREFIX + n for n in BUNDLES))
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
                   overrides: Iterable[str] = (), model: Optional[str] = None
                   ) -> tuple[Config, Path]:
    """Like :func:`resolve`, with the config loaded (``KEY=VALUE`` overrides applied)."""
    config_path, weights_path = resolve(config, weights, model)
    return load_config(config_path, overrides), weights_path


def get_model(name: str = DEFAULT, device: str | torch.device = "cpu") -> torch.nn.Module:
    """The bundled model ``name`` (any of :data:`BUNDLES`: ``"AASIST-L"``, ``"RawGAT-ST-mul"``,
    ...; ``"official:NAME"`` too) with its weights loaded strictly, in eval mode on ``device``."""
    return bundle(name).get_model(device)


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

    ``path`` may also be ``official:NAME`` (a bundled model, e.g. ``official:AASIST-L``).
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
               device: str | torch.device = "cpu", overrides: Iterable[str] = (),
               model: Optional[str] = None) -> torch.nn.Module:
    """Config file (or bundled name) + weights, or a bundled ``model`` -> model in eval mode
    on ``device``.

    With none given: the bundled official AASIST-L. ``model="RawGAT-ST-mul"`` (or
    ``weights="official:RawGAT-ST-mul"``) picks another bundled model and its config; see
    :func:`resolve` for how a missing config is found.
    """
    config, weights_path = resolve_config(config, weights, overrides, model)
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


__all__ = ["BUNDLES", "DEFAULT", "OFFICIAL", "PREFIX", "Bundle", "Checkpoint", "build_model",
           "bundle", "get_model", "interpolate_weights", "load_model", "load_weights", "model_name",
           "official", "resolve", "resolve_config", "sha256_of"]
