"""AASIST / AASIST-L spoofed-speech detection: models, data, training and evaluation.

Public entry points::

    import aasist
    config = aasist.load_config("config/AASIST-L.conf", ["num_epochs=10"])
    model = aasist.build_model(config["model_config"])
    aasist.load_weights(model, "weights/AASIST-L.pth")   # official checkpoints load as-is
    model = aasist.load_model()                           # the bundled official AASIST-L

Importing the package tunes glibc's allocator for large tensors (see `aasist.runtime`;
``AASIST_MALLOC_TUNING=0`` switches that off).
"""
from __future__ import annotations

from . import runtime
from .config import load_config
from .errors import AasistError, ConfigError, DataError, DownloadError
from .model import Model, build_model, count_parameters, load_model, load_weights

__version__ = "0.1.0"

runtime.tune_malloc()


__all__ = ["AasistError", "ConfigError", "DataError", "DownloadError", "Model", "build_model",
           "count_parameters", "load_config", "load_model", "load_weights", "__version__"]
