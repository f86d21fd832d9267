"""Training-time augmentation for robust models: RawBoost and channel / codec simulation.

The config key ``augment`` (`aasist.augment.spec`; how it runs: `aasist.augment.pipeline`)
lists named transforms:

============  ==============================================================  ===========
name          what it does                                                    runs
============  ==============================================================  ===========
rawboost      RawBoost algorithms 1-8 (Tak et al., ICASSP 2022)               batch, torch
codec         MP3 / Ogg Vorbis / Ogg Opus round trip (libsndfile)             clip, CPU
telephone     8 kHz band-passed call through GSM / mu-law / A-law / G.721     clip, CPU
noise         coloured noise (generated) or a noise folder, at a drawn SNR    batch / clip
reverb        simulated room (exponential decay) or a folder of responses     batch / clip
bandlimit     random high-pass and low-pass edges                             batch, torch
packet_loss   silenced 20 ms frames                                           batch, torch
============  ==============================================================  ===========

Augmentation runs only in training (`aasist.train`), never in evaluation or prediction.
``experiments/shift.py`` makes a channel-shifted copy of an evaluation split with the same
building blocks, to measure what a model does on audio recorded and sent as users' is.
"""
from __future__ import annotations

from .pipeline import Augmenter, TrainAugmentation, build_transform, train_augmentation
from .rawboost import RawBoostParams, apply_rawboost
from .spec import TRANSFORMS, validate_augment

__all__ = ["Augmenter", "RawBoostParams", "TRANSFORMS", "TrainAugmentation", "apply_rawboost",
           "build_transform", "train_augmentation", "validate_augment"]
