"""The mel scale, one formula for the whole package.

O'Shaughnessy's formula (as in HTK and the official AASIST sinc front end), used by the
model's filterbank and by the vocoders of the synthetic mini corpus.
"""
from __future__ import annotations

import numpy as np


def hz_to_mel(hz):
    """Frequency in Hz -> mel (scalar or array)."""
    return 2595 * np.log10(1 + hz / 700)


def mel_to_hz(mel):
    """Mel -> frequency in Hz (scalar or array); the inverse of :func:`hz_to_mel`."""
    return 700 * (10 ** (mel / 2595) - 1)


def mel_filterbank(n_mels: int, n_fft: int, sample_rate: int) -> np.ndarray:
    """Triangular filters evenly spaced on the mel scale, 0 Hz to Nyquist: (n_mels, n_fft//2 + 1).

    Filter ``m`` rises from mel point ``m`` to ``m + 1`` and falls to ``m + 2`` (peak 1), so
    neighbouring filters overlap by half and their sum is 1 between the first and last peak.
    """
    mel = hz_to_mel(np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1))
    points = np.linspace(0.0, mel[-1], n_mels + 2)[:, None]
    lo, mid, hi = points[:-2], points[1:-1], points[2:]
    return np.clip(np.minimum((mel - lo) / (mid - lo), (hi - mel) / (hi - mid)), 0.0, None)


__all__ = ["hz_to_mel", "mel_filterbank", "mel_to_hz"]
