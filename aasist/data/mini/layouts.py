"""Helpers the corpus modules use to write the mini corpus in their own layouts.

Each corpus of :mod:`aasist.data.corpora` writes a few utterances of the mini corpus's
synthetic voice and vocoders (:func:`.corpus.synthesize_utterance`) into its exact folders,
file names and protocol formats (its ``make_mini``), so that every reader, dataset,
download check and evaluation path runs offline. The conditions a corpus labels (codecs,
vocoder types, subsets, attack labels) are assigned in turn, so each one occurs; they are
labels only: the audio is not coded or transmitted.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Optional

import numpy as np
import soundfile as sf

from ...fileio import atomic_write
from .corpus import SAMPLE_RATE, synthesize_utterance

_ATTACKS = {"train": [f"A{i:02d}" for i in range(1, 7)], "dev": [f"A{i:02d}" for i in range(1, 7)],
            "eval": [f"A{i:02d}" for i in range(7, 20)]}

Utterance = tuple[int, int, Optional[str]]  # (index, speaker, attack or None)


def plan(seed: int, split: str, n_bona: int, n_spoof: int) -> list[Utterance]:
    """(index, speaker, attack or None) per utterance: bona fide first, attacks in turn."""
    rng = np.random.default_rng([seed, len(split), n_bona, n_spoof])
    attacks = _ATTACKS[split]
    labels = [None] * n_bona + [attacks[i % len(attacks)] for i in range(n_spoof)]
    return [(i, int(rng.integers(1, 20)), a) for i, a in enumerate(labels)]


def write_audio(path: Path, seed: int, split: str, utt: Utterance, fmt: str = "FLAC") -> None:
    """One utterance as a 16-bit file; a file written whole by an earlier call is kept."""
    if path.is_file():  # files are renamed into place, so an existing one is complete
        return
    index, speaker, attack = utt
    buf = io.BytesIO()
    sf.write(buf, synthesize_utterance(seed, split, index, speaker, attack), SAMPLE_RATE,
             format=fmt, subtype="PCM_16")
    with atomic_write(path, "wb", durable=False) as fh:
        fh.write(buf.getvalue())


def write_lines(path: Path, lines: list[str]) -> None:
    with atomic_write(path) as fh:
        fh.write("".join(line + "\n" for line in lines))


def nth(values, i: int) -> str:
    """Condition ``i`` in turn (counted within each class, so that each subset and codec
    holds both classes)."""
    values = list(values)
    return values[i % len(values)]


__all__ = ["nth", "plan", "write_audio", "write_lines"]
