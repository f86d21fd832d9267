"""Channel effects as batched torch operations: coloured noise, rooms, band limits, packet loss.

Each function maps a batch ``x`` (n, L) float32 to a new (n, L) float32 batch on the same
device, drawing its random parameters per row from ``gen`` (a generator on that device).
Effects that need a user's files (recorded noise, measured room responses) or a codec
library run per clip on the CPU instead: see `aasist.augment.codecs` and
`aasist.augment.files`.
"""
from __future__ import annotations

import math

import torch

from .dsp import (add_at_snr, db_per_octave_exponent, fft_convolve, fft_size, rms_match,
                  uniform)

DIRECT_TO_TAIL_GAP_S = 0.0025  # the diffuse tail of a simulated room starts 2.5 ms after the direct sound


def coloured_noise(x: torch.Tensor, fs: int, snr_min: float, snr_max: float, slope_min: float,
                   slope_max: float, gen: torch.Generator) -> torch.Tensor:
    """Add Gaussian noise whose spectrum falls or rises by ``U(slope_min, slope_max)`` dB per
    octave (0 = white, -3 = pink, -6 = brown, +3 = blue) at ``U(snr_min, snr_max)`` dB SNR."""
    n, length = x.shape
    slope = uniform(slope_min, slope_max, (n, 1), gen)
    white = torch.randn(n, length, generator=gen, device=gen.device)
    freqs = torch.fft.rfftfreq(length, 1 / fs, device=gen.device)
    # level relative to 1 kHz; below 20 Hz the shape is held flat, and DC is removed
    shape = torch.pow(freqs.clamp_min(20.0) / 1000.0, db_per_octave_exponent(slope))
    shape[:, 0] = 0
    noise = torch.fft.irfft(torch.fft.rfft(white) * shape, length)
    return add_at_snr(x, noise, uniform(snr_min, snr_max, (n,), gen))


def simulated_room(x: torch.Tensor, fs: int, rt60_min: float, rt60_max: float, drr_min: float,
                   drr_max: float, gen: torch.Generator) -> torch.Tensor:
    """Reverberate with a synthetic room response, level kept.

    The response is a direct path (a unit impulse at lag 0, so the output stays aligned)
    plus a diffuse tail of Gaussian noise whose energy decays by 60 dB in
    ``RT60 ~ U(rt60_min, rt60_max)`` s, scaled to a direct-to-reverberant energy ratio of
    ``U(drr_min, drr_max)`` dB (the exponential-decay model of Schroeder / Polack).
    """
    n = x.shape[0]
    length_ir = max(int(round(rt60_max * fs)), 2)
    t = torch.arange(length_ir, device=gen.device) / fs
    rt60 = uniform(rt60_min, rt60_max, (n, 1), gen).clamp_min(1e-3)
    decay = torch.pow(10.0, -3.0 * t / rt60)                     # amplitude: -60 dB at RT60
    tail = torch.randn(n, length_ir, generator=gen, device=gen.device) * decay
    tail[:, :max(int(DIRECT_TO_TAIL_GAP_S * fs), 1)] = 0
    drr = uniform(drr_min, drr_max, (n, 1), gen)
    tail = tail / torch.linalg.vector_norm(tail, dim=-1, keepdim=True).clamp_min(1e-12)
    response = tail * torch.pow(10.0, -drr / 20)
    response[:, 0] = 1.0
    return rms_match(fft_convolve(x, response), x)


def band_limit(x: torch.Tensor, fs: int, highpass_min: float, highpass_max: float,
               lowpass_min: float, lowpass_max: float, order: int,
               gen: torch.Generator) -> torch.Tensor:
    """Zero-phase Butterworth-shaped band limits: high-pass at ``U(highpass_min, highpass_max)``
    Hz and low-pass at ``U(lowpass_min, lowpass_max)`` Hz (a cut-off of 0, or of fs/2 and
    above, leaves that side open). ``order`` sets the slope: 6 ``order`` dB per octave."""
    n, length = x.shape
    high = uniform(highpass_min, highpass_max, (n, 1), gen)
    low = uniform(lowpass_min, lowpass_max, (n, 1), gen)
    n_fft = fft_size(length + 2048)   # room for the (short) filter tails
    f = torch.fft.rfftfreq(n_fft, 1 / fs, device=gen.device).clamp_min(1e-3)
    lowpass = torch.where(low < fs / 2, 1 / torch.sqrt(1 + (f / low.clamp_min(1e-3)) ** (2 * order)), 1.0)
    highpass = 1 / torch.sqrt(1 + (high / f) ** (2 * order))
    y = torch.fft.irfft(torch.fft.rfft(x, n_fft) * lowpass * highpass, n_fft)
    return y[:, :length]


def packet_loss(x: torch.Tensor, fs: int, rate_min: float, rate_max: float, frame_ms: float,
                gen: torch.Generator) -> torch.Tensor:
    """Silence whole frames of ``frame_ms`` ms, each lost with probability ``U(rate_min,
    rate_max)`` (drawn per clip), as a VoIP call without loss concealment does."""
    n, length = x.shape
    frame = max(int(round(frame_ms * fs / 1000)), 1)
    n_frames = math.ceil(length / frame)
    rate = uniform(rate_min, rate_max, (n, 1), gen)
    lost = torch.rand(n, n_frames, generator=gen, device=gen.device) < rate
    keep = (~lost).repeat_interleave(frame, dim=1)[:, :length]
    return x * keep


__all__ = ["band_limit", "coloured_noise", "packet_loss", "simulated_room"]
