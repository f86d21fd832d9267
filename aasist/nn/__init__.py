"""The networks: a raw 16 kHz waveform (B, L) in, logits (B, 2) out (column 1 = bona fide).

AASIST / AASIST-L (:mod:`.aasist`) and RawGAT-ST (:mod:`.rawgat`), one module each.

Torch only: nothing here reads files, the environment or process settings. Configs are
validated by :mod:`aasist.config` and weights loaded by :mod:`aasist.pretrained`; how a
forward pass runs (memory layout, SELU kernel) is a :class:`Kernels` argument.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch.nn as nn

from .aasist import AASIST, Model
from .layers import LAYOUTS, SELU_KERNELS, Kernels, min_input_samples
from .rawgat import RawGATST

#: model_config["architecture"] -> network class (each takes (model_config, kernels)).
ARCHITECTURES: dict[str, type[nn.Module]] = {"AASIST": Model, "RawGAT-ST": RawGATST}


def build_network(model_config: Mapping[str, Any], kernels: Kernels = Kernels()) -> nn.Module:
    """The network a (validated) ``model_config`` describes, freshly initialised."""
    architecture = model_config.get("architecture", "AASIST")
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; valid: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[architecture](dict(model_config), kernels)


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (BatchNorm running statistics are buffers, not counted)."""
    return sum(p.numel() for p in model.parameters())


__all__ = ["AASIST", "ARCHITECTURES", "Kernels", "LAYOUTS", "Model", "RawGATST", "SELU_KERNELS",
           "build_network", "count_parameters", "min_input_samples"]
