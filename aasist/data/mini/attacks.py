"""The mini corpus's attacks: coarse vocoders of genuinely different kinds, one per id.

Each attack maps a bona fide utterance ``x`` (float64, 16 kHz), its generation info (per
sample ``f0`` and ``voiced``) and a random generator to a spoofed signal of about the same
length.  Train and dev use A01-A06; eval uses A07-A19, where A16 and A19 reuse the
algorithms of A04 and A06 (as in ASVspoof 2019), some ids combine known artefacts and the
others are unseen:

====  =====================================================================================
A01   Griffin-Lim (4 iterations) from a coarse (1024-point) STFT magnitude sharpened by
      power 1.5, as in Tacotron
A02   LPC vocoder: 12th-order all-pole envelope, hard voiced/unvoiced pulse-or-noise
      excitation (no aspiration, no jitter)
A03   mel-cepstral vocoder: 14-coefficient, time-smoothed envelope (minimum phase) on a
      pulse + noise excitation
A04   band-limited waveform: nothing above ~5 kHz, a faint spectral image above it
A05   overlap-add of 32 ms frames taken at positions jittered by up to 15 ms (phase
      incoherence, smeared pitch pulses)
A06   transform codec: 9 dB log-magnitude quantisation; every bin 16-24 dB below the frame
      peak is dropped (spectral holes)
A07   LPCNet-like: LPC residual mu-law coded with 2 bits per sample through the all-pole
      filter (unseen)
A08   80-band mel spectrogram (power 1.3) inverted by pseudo-inverse + 4 Griffin-Lim
      iterations (A01-like)
A09   harmonic-plus-noise sinusoidal vocoder: harmonics below 4 kHz, noise above (unseen)
A10   phase-vocoder pitch shift by 10-25 % up or down (unseen)
A11   A03 envelope with Griffin-Lim phase (A01 + A03)
A12   16-band channel vocoder on a pulse + noise excitation (unseen)
A13   frequency-warping voice conversion (factor 0.8-1.22) that keeps the source phase
      (unseen)
A14   A02 followed by A06
A15   A01 followed by A04
A16   same algorithm as A04
A17   A05 followed by 4-bit mu-law waveform coding
A18   zero-phase, time-oversmoothed spectral envelope vocoder (unseen)
A19   same algorithm as A06
====  =====================================================================================
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import lfilter, resample_poly

from ...melscale import hz_to_mel, mel_filterbank
from .dsp import (BLOCK, SR, cepstral_envelope, fit_length, griffin_lim, istft, lpc,
                  minimum_phase, moving_average, mu_law_round_trip, overlap_add,
                  pulse_noise_excitation, stft, tv_allpole, window)


def _atk_griffin_lim(x, info, rng, n_fft=1024, hop=256, n_iter=4, power=1.5):
    """Griffin-Lim from a coarse, sharpened magnitude (as in Tacotron's power=1.3-1.5)."""
    mag = np.abs(stft(x, n_fft, hop)) ** power
    return griffin_lim(mag, n_fft, hop, len(x), n_iter, rng)


def _lpc_analysis(x: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pre-emphasised signal, LPC polynomials and gains, one row per 5 ms block."""
    emph = lfilter([1.0, -0.97], [1.0], x)
    width = 400
    frames = sliding_window_view(np.pad(emph, (width // 2, width)), width)[::BLOCK]
    frames = frames[: -(-len(x) // BLOCK)] * np.hamming(width)
    a, err = lpc(frames, order)
    return emph, a, np.sqrt(err / (0.4 * width))


def _atk_lpc(x, info, rng, order=12):
    _, a, gains = _lpc_analysis(x, order)
    exc = pulse_noise_excitation(info["f0"], info["voiced"], rng)
    y = tv_allpole(exc, a, gains=gains)
    return lfilter([1.0], [1.0, -0.97], y)


def _atk_lpc_residual_coding(x, info, rng, order=16, bits=2):
    """LPCNet-like: the true LPC residual, mu-law coded with few bits per sample and
    normalised per block, drives the all-pole synthesis filter (envelope-shaped noise)."""
    n = len(x)
    emph, a, gains = _lpc_analysis(x, order)
    lagged = sliding_window_view(np.pad(emph, (order, 0)), order + 1)[:, ::-1]
    residual = np.sum(lagged * a[np.arange(n) // BLOCK], axis=1)
    scale = np.repeat(gains, BLOCK)[:n] * 8.0
    coded = mu_law_round_trip(np.clip(residual / scale, -1.0, 1.0), bits) * scale
    y = tv_allpole(coded, a)
    return lfilter([1.0], [1.0, -0.97], y)


def _atk_mcep(x, info, rng, zero_phase=False, time_smooth=5, n_ceps=14):
    n_fft, hop = 512, 128
    n = len(x)
    mag = np.abs(stft(x, n_fft, hop))
    if time_smooth > 1:
        mag = np.sqrt(moving_average(mag ** 2, time_smooth))
    ceps = cepstral_envelope(mag, n_ceps)
    if zero_phase:
        env = np.exp(np.fft.rfft(ceps, axis=1).real)
    else:
        env = minimum_phase(ceps)
    exc = pulse_noise_excitation(info["f0"], info["voiced"], rng, noise_in_voiced=0.15)
    exc_spec = stft(exc, n_fft, hop)
    # normalise the excitation spectrum frame by frame so the envelope sets the level
    exc_spec /= np.sqrt(np.mean(np.abs(exc_spec) ** 2, axis=1, keepdims=True)) + 1e-9
    return istft(exc_spec * env, n_fft, hop, n)


def _lowpass_5k(x: np.ndarray) -> np.ndarray:
    """Round trip through 10 kHz sampling: nothing is left above 5 kHz."""
    return fit_length(resample_poly(resample_poly(x, 5, 8), 8, 5), len(x))


def _atk_bandlimit(x, info, rng):
    low = _lowpass_5k(x)
    mirrored = low * np.cos(np.pi * np.arange(len(x)))  # f -> 8 kHz - f
    image = mirrored - _lowpass_5k(mirrored)  # weak imaging above the cut-off
    return low + image * 10.0 ** (rng.uniform(-55.0, -45.0) / 20.0)


def _atk_ola(x, info, rng, width=512, hop=128, max_offset=0.015):
    n = len(x)
    n_frames = -(-n // hop) + width // hop
    pad = width + int(max_offset * SR) + 1
    xp = np.pad(x, (pad, pad + n_frames * hop))
    starts = np.arange(n_frames) * hop - width // 2 + pad
    offsets = rng.integers(-int(max_offset * SR), int(max_offset * SR) + 1, size=n_frames)
    frames = xp[(starts + offsets)[:, None] + np.arange(width)] * window("hann", width)
    y = overlap_add(frames, hop)
    norm = overlap_add(np.broadcast_to(window("hann", width), frames.shape), hop)
    y = y / np.maximum(norm, 1e-3 * norm.max())
    return fit_length(y[width // 2:], n)


def _atk_codec(x, info, rng, n_fft=512, step_db=9.0):
    n = len(x)
    floor_db = rng.uniform(16.0, 24.0)
    hop = n_fft // 2
    spec = stft(x, n_fft, hop, win="sqrthann")
    mag = np.abs(spec)
    ldb = 20.0 * np.log10(mag + 1e-9)
    q = np.round(ldb / step_db) * step_db
    keep = ldb > (ldb.max(axis=1, keepdims=True) - floor_db)
    qmag = np.where(keep, 10.0 ** (q / 20.0), 0.0)
    return istft(spec / (mag + 1e-12) * qmag, n_fft, hop, n, win="sqrthann")


def _atk_mulaw(x, info, rng, bits=5):
    peak = np.max(np.abs(x)) + 1e-12
    return mu_law_round_trip(x / peak, bits) * peak


_MEL_CACHE: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def _atk_mel_gl(x, info, rng, n_fft=1024, hop=256, n_mels=80, n_iter=4, power=1.3):
    key = (n_mels, n_fft)
    if key not in _MEL_CACHE:
        fb = mel_filterbank(n_mels, n_fft, SR)
        _MEL_CACHE[key] = (fb, np.linalg.pinv(fb))
    fb, inv = _MEL_CACHE[key]
    mag = np.abs(stft(x, n_fft, hop))
    mel = mag ** 2 @ fb.T
    lin = np.clip(mel @ inv.T, 0.0, None) ** (0.5 * power)
    return griffin_lim(lin, n_fft, hop, len(x), n_iter, rng)


def _atk_hnm(x, info, rng, max_harmonics=60, cutoff=4000.0):
    """Harmonic-plus-noise vocoder: sinusoids at k*f0 below ``cutoff`` where voiced, noise
    elsewhere, both shaped by a mel-cepstral envelope."""
    n = len(x)
    n_fft, hop = 512, 128
    mag = np.abs(stft(x, n_fft, hop))
    env = np.exp(np.fft.rfft(cepstral_envelope(mag, 40), axis=1).real)
    f0 = info["f0"]
    voiced = moving_average(info["voiced"].astype(np.float64), 80)
    phase = 2.0 * np.pi * np.cumsum(f0 / SR)
    block_pos = np.arange(0, n, BLOCK)
    block_frame = np.clip(np.round(block_pos / hop).astype(np.int64), 0, len(env) - 1)
    f0_blocks = f0[block_pos]
    bin_hz = SR / n_fft
    harmonics = np.zeros(n)
    for k in range(1, max_harmonics + 1):
        fk = k * f0_blocks
        if fk.min() > cutoff:
            break
        bins = np.clip(np.round(fk / bin_hz).astype(np.int64), 0, env.shape[1] - 1)
        amp = np.interp(np.arange(n), block_pos, env[block_frame, bins] * (fk < cutoff))
        harmonics += amp * np.cos(k * phase + rng.uniform(0.0, 2.0 * np.pi))
    harmonics *= voiced * 4.0 / n_fft
    frame_voiced = voiced[np.clip(np.arange(len(env)) * hop, 0, n - 1)][:, None]
    high = (np.arange(env.shape[1]) * bin_hz >= cutoff)[None, :]
    noise_gain = (1.0 - frame_voiced) + frame_voiced * high
    noise = stft(rng.standard_normal(n), n_fft, hop) / np.sqrt(3.0 * n_fft / 8.0)
    return harmonics + istft(noise * env * noise_gain, n_fft, hop, n)


def _atk_pitch_shift(x, info, rng, n_fft=1024, hop=256):
    """Phase-vocoder time stretch by r, then resample by r: pitch shifted, length kept."""
    n = len(x)
    r = rng.choice([0.8, 0.85, 0.9, 1.12, 1.18, 1.25])  # stretch factor
    spec = stft(x, n_fft, hop)
    n_out = int(np.ceil(len(spec) * r))
    pos = np.arange(n_out) / r
    i0 = np.clip(pos.astype(np.int64), 0, len(spec) - 2)
    frac = pos - i0
    mag = np.abs(spec[i0]) * (1 - frac)[:, None] + np.abs(spec[i0 + 1]) * frac[:, None]
    dphi = np.angle(spec[i0 + 1]) - np.angle(spec[i0])
    omega = 2.0 * np.pi * hop * np.arange(spec.shape[1]) / n_fft
    dphi = dphi - omega
    dphi = dphi - 2.0 * np.pi * np.round(dphi / (2.0 * np.pi)) + omega
    phase = np.angle(spec[0]) + np.concatenate([np.zeros((1, spec.shape[1])),
                                                np.cumsum(dphi[:-1], axis=0)])
    stretched = istft(mag * np.exp(1j * phase), n_fft, hop, int(round(n * r)))
    num = int(round(r * 100))
    return fit_length(resample_poly(stretched, 100, num), n)


def _atk_channel_vocoder(x, info, rng, n_bands=16):
    n_fft, hop = 512, 128
    n = len(x)
    mag = np.abs(stft(x, n_fft, hop))
    n_bins = mag.shape[1]
    hz = np.linspace(0.0, SR / 2, n_bins)
    mel = hz_to_mel(hz)
    band = np.minimum((mel / mel[-1] * n_bands).astype(np.int64), n_bands - 1)
    onehot = np.zeros((n_bins, n_bands))
    onehot[np.arange(n_bins), band] = 1.0
    energy = (mag ** 2) @ onehot / onehot.sum(axis=0)
    env = np.sqrt(energy @ onehot.T)  # piecewise-constant band envelope
    exc = pulse_noise_excitation(info["f0"], info["voiced"], rng)
    exc_spec = stft(exc, n_fft, hop)
    exc_spec /= np.sqrt(np.mean(np.abs(exc_spec) ** 2, axis=1, keepdims=True)) + 1e-9
    return istft(exc_spec * env, n_fft, hop, n)


def _atk_freq_warp(x, info, rng, n_fft=512, hop=128):
    """Voice conversion by frequency warping of the magnitude, keeping the source phase."""
    n = len(x)
    spec = stft(x, n_fft, hop)
    mag = np.abs(spec)
    alpha = rng.choice([0.8, 0.86, 1.15, 1.22])
    n_bins = mag.shape[1]
    src = np.clip(np.arange(n_bins) / alpha, 0, n_bins - 1)
    lo = np.minimum(src.astype(np.int64), n_bins - 2)
    frac = src - lo
    warped = mag[:, lo] * (1 - frac) + mag[:, lo + 1] * frac
    return istft(warped * spec / (mag + 1e-12), n_fft, hop, n)


def _atk_gl_envelope(x, info, rng):
    y = _atk_mcep(x, info, rng)
    return _atk_griffin_lim(y, info, rng, n_iter=10)


def _chain(*steps: Callable) -> Callable:
    def run(x, info, rng):
        for step in steps:
            x = step(x, info, rng)
        return x
    return run


ATTACKS: dict[str, Callable[[np.ndarray, dict, np.random.Generator], np.ndarray]] = {
    "A01": _atk_griffin_lim,
    "A02": _atk_lpc,
    "A03": _atk_mcep,
    "A04": _atk_bandlimit,
    "A05": _atk_ola,
    "A06": _atk_codec,
    "A07": _atk_lpc_residual_coding,
    "A08": _atk_mel_gl,
    "A09": _atk_hnm,
    "A10": _atk_pitch_shift,
    "A11": _atk_gl_envelope,
    "A12": _atk_channel_vocoder,
    "A13": _atk_freq_warp,
    "A14": _chain(_atk_lpc, _atk_codec),
    "A15": _chain(_atk_griffin_lim, _atk_bandlimit),
    "A16": _atk_bandlimit,
    "A17": _chain(_atk_ola, lambda x, info, rng: _atk_mulaw(x, info, rng, bits=4)),
    "A18": lambda x, info, rng: _atk_mcep(x, info, rng, zero_phase=True, time_smooth=9),
    "A19": _atk_codec,
}
