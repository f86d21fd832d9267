"""AASIST / AASIST-L spoofed-speech detection: models, data, training and evaluation.

Public entry points::

    import aasist
    config = aasist.load_config("config/AASIST-L.conf", ["num_epochs=10"])
    model = aasist.build_model(config["model_config"])
    aasist.load_weights(model, "weights/AASIST-L.pth")   # official checkpoints load as-is

Importing the package tunes glibc's allocator for large tensors (see `aasist.runtime`;
``AASIST_MALLOC_TUNING=0`` switches that off).
"""
from __future__ import annotations

from pathlib import Path

from . import runtime
from .config import load_config
from .errors import AasistError, ConfigError, DataError, DownloadError
from .model import Model, build_model, count_parameters

__version__ = "0.1.0"

runtime.tune_malloc()


def load_weights(model: Model, path: str | Path, strict: bool = True) -> Model:
    """Load a state_dict (official checkpoint or ours) onto ``model``'s device.

    The official files were saved from CUDA tensors; they are mapped to wherever the
    model lives, so they load on CPU-only machines too.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: weights not found; get the official ones with "
            f"`python scripts/download_pretrained.py` or train with `python -m aasist train`")
    device = next(model.parameters()).device
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # a truncated or non-torch file: say which file
        raise DataError(f"{path}: not a readable PyTorch checkpoint ({exc.__class__.__name__})") from None
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]  # a training checkpoint.pt: take its model weights
    try:
        model.load_state_dict(state, strict=strict)
    except RuntimeError as exc:
        first = str(exc).splitlines()[1].strip() if len(str(exc).splitlines()) > 1 else str(exc)
        raise DataError(f"{path}: weights do not fit this model config ({first}); "
                        f"use the config the weights were trained with") from None
    return model


def load_model(config_path: str | Path, weights: str | Path | None = None,
               device: str = "cpu", overrides=()) -> Model:
    """Config file (+ optional weights) -> model in eval mode on ``device``."""
    config = load_config(config_path, overrides)
    model = build_model(config["model_config"]).to(device)
    if weights is not None:
        load_weights(model, weights)
    return model.eval()


__all__ = ["AasistError", "ConfigError", "DataError", "DownloadError", "Model", "build_model",
           "count_parameters", "load_config", "load_model", "load_weights", "__version__"]
