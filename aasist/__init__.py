"""AASIST / AASIST-L spoofed-speech detection: models, data, training, evaluation, scoring.

Public entry points::

    import aasist
    detector = aasist.Detector()                       # the bundled official AASIST-L
    detector.score("clip.wav")                         # {"score", "p_bonafide", "label", ...}
    model = aasist.get_model("AASIST-L")               # the network alone, eval mode
    detector = aasist.Detector(model="RawGAT-ST-mul")  # another bundled model (`aasist models`)
    fused = aasist.Ensemble(["AASIST", "RawGAT-ST-mul"], calibration="fusion.json")
    config = aasist.load_config("mini", ["num_epochs=3"])   # a bundled config, or a .conf file
    model = aasist.build_model(config.model_config)    # a fresh one
    aasist.load_weights(model, "runs/mini/weights/last.pth")

    from aasist.train import train                     # one module per step of the pipeline
    train(config, out_dir="runs/mini-3")

Importing the package changes nothing in the process: no allocator setting, no thread
count, no environment variable. The command line applies its process settings at start-up
(:mod:`aasist.runtime`); a program importing the package decides for itself.
"""
from __future__ import annotations

__version__ = "0.2.0"

# name -> module that defines it; imported on first use, so `import aasist` stays light
_EXPORTS = {
    "AasistError": "errors", "ConfigError": "errors", "DataError": "errors",
    "DownloadError": "errors",
    "Config": "config", "load_config": "config",
    "build_model": "pretrained", "get_model": "pretrained", "load_model": "pretrained",
    "load_weights": "pretrained",
    "count_parameters": "nn", "Kernels": "nn", "Model": "nn",
    "Detector": "predict", "Ensemble": "predict",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        from importlib import import_module

        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'aasist' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = ["__version__", *_EXPORTS]
