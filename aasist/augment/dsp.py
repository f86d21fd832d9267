"""Batched torch signal helpers shared by RawBoost and the channel transforms.

Every function works on float32 tensors of shape ``(..., L)`` on any device and takes
its randomness from an explicit ``torch.Generator`` living on that device, so the same
seed gives the same output on every run (per device and torch build).
"""
from __future__ import annotations

import math

import torch
from scipy.fft import next_fast_len


def uniform(low: float, high: float, shape, gen: torch.Generator) -> torch.Tensor:
    """Uniform draws between ``low`` and ``high`` (either order, as numpy's ``uniform``)."""
    return low + (high - low) * torch.rand(shape, generator=gen, device=gen.device)


def fft_size(n: int) -> int:
    """A fast real-FFT length of at least ``n``."""
    return next_fast_len(int(n), real=True)


def zero_phase_filter(x: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """Filter ``x`` (..., L) with symmetric FIR ``taps`` (..., 2M+1), centred: no delay.

    The centre tap is the response at lag 0, so the output lines up with the input
    ("same" convolution). Done in the frequency domain on a grid long enough
    (>= L + M) that no circular wrap reaches the kept samples.
    """
    length, half = x.shape[-1], taps.shape[-1] // 2
    n_fft = fft_size(length + half + 1)
    wrapped = torch.zeros(*taps.shape[:-1], n_fft, dtype=taps.dtype, device=taps.device)
    wrapped[..., :half + 1] = taps[..., half:]          # lags 0 .. M
    if half:
        wrapped[..., -half:] = taps[..., :half]         # lags -M .. -1
    spectrum = torch.fft.rfft(x, n_fft) * torch.fft.rfft(wrapped, n_fft)
    return torch.fft.irfft(spectrum, n_fft)[..., :length]


def fft_convolve(x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Causal linear convolution of ``x`` (..., L) with ``h`` (..., K), cut to L samples."""
    length = x.shape[-1]
    n_fft = fft_size(length + h.shape[-1])
    y = torch.fft.irfft(torch.fft.rfft(x, n_fft) * torch.fft.rfft(h, n_fft), n_fft)
    return y[..., :length]


def peak_normalise(x: torch.Tensor, always: bool = False) -> torch.Tensor:
    """Divide each row by its peak: always, or only where the peak exceeds 1 (no clipping)."""
    peak = x.abs().amax(dim=-1, keepdim=True)
    if always:
        return x / peak.clamp_min(1e-12)
    return torch.where(peak > 1, x / peak.clamp_min(1e-12), x)


def add_at_snr(x: torch.Tensor, noise: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
    """``x + noise`` with the noise scaled so that ||x|| / ||noise|| is ``snr_db`` (per row).

    A silent row stays silent (its noise is scaled to zero), as in RawBoost.
    """
    signal_norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True)
    noise_norm = torch.linalg.vector_norm(noise, dim=-1, keepdim=True).clamp_min(1e-12)
    scale = signal_norm / noise_norm / torch.pow(10.0, snr_db.reshape(-1, 1) / 20)
    return x + noise * scale


def rms_match(y: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Rescale each row of ``y`` to the RMS level of the same row of ``reference``."""
    ref = reference.square().mean(dim=-1, keepdim=True).sqrt()
    out = y.square().mean(dim=-1, keepdim=True).sqrt().clamp_min(1e-12)
    return y * (ref / out)


def db_per_octave_exponent(slope_db: torch.Tensor) -> torch.Tensor:
    """Exponent a of f**a whose level changes by ``slope_db`` per doubling of frequency."""
    return slope_db / (20 * math.log10(2))


__all__ = ["add_at_snr", "db_per_octave_exponent", "fft_convolve", "fft_size", "peak_normalise",
           "rms_match", "uniform", "zero_phase_filter"]
