"""The mini corpus's spoofing attacks: one deliberately coarse vocoder per attack id.

A spoof is a bona fide-like utterance (:func:`.voice.bonafide`) re-synthesised by its
attack; length, level and noise floor are drawn apart (:func:`.corpus.synthesize_utterance`),
so the artefacts are all that separates the classes. Train and dev use A01-A06; eval uses
A07-A19, where A16 and A19 reuse the algorithms of A04 and A06 (as in ASVspoof 2019), some
ids combine known artefacts and the others are unseen ones:

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

Why so coarse: ``python -m aasist train --config config/mini.conf`` must teach AASIST-L
something real within minutes on two CPU cores (the README has the measured time and EERs).
Its fixed sinc filterbank and graph pooling pick up broad, consistent differences first and
subtle ones very slowly, so each vocoder is a low-quality version of its kind.

Every attack is ``f(x, info, rng) -> y``: ``x`` the bona fide signal, ``info`` what the
voice model knows of it (per-sample ``f0`` and ``voiced``), ``rng`` the attack's own
random stream; ``y`` has about the length of ``x`` (the caller fits it exactly).
"""
from __future__ import annotations

from functools import lru_cache, partial
from typing import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import sparse
from scipy.signal import lfilter, resample_poly
from scipy.sparse.linalg import splu

from ...melscale import hz_to_mel, mel_filterbank
from .dsp import (BLOCK, SAMPLE_RATE, fit_length, griffin_lim, istft, lpc, mu_law, smooth, stft,
                  tv_allpole, window)

Attack = Callable[[np.ndarray, dict, np.random.Generator], np.ndarray]


# --------------------------------------------------------------------------- building blocks


def _pulse_noise_excitation(f0: np.ndarray, voiced: np.ndarray, rng: np.random.Generator,
                            noise_in_voiced: float = 0.0) -> np.ndarray:
    """Classic vocoder excitation: unit-power impulse train where voiced, noise elsewhere."""
    n = len(f0)
    phase = np.cumsum(f0 / SAMPLE_RATE) + rng.random()
    pulses = np.zeros(n)
    idx = np.flatnonzero(np.diff(np.floor(phase), prepend=np.floor(phase[0])) > 0)
    pulses[idx] = np.sqrt(SAMPLE_RATE / f0[idx])
    noise = rng.standard_normal(n)
    v = voiced.astype(np.float64)
    return v * (pulses + noise_in_voiced * noise) + (1.0 - v) * noise


def _unit_frames(spec: np.ndarray) -> np.ndarray:
    """Each frame (column) of ``spec`` scaled to unit mean power: the envelope sets the level."""
    return spec / (np.sqrt(np.mean(np.abs(spec) ** 2, axis=0, keepdims=True)) + 1e-9)


def _interp_bins(a: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Rows of ``a`` (bins, frames) linearly interpolated at fractional bin positions ``pos``."""
    lo = np.clip(np.floor(pos).astype(np.int64), 0, a.shape[0] - 2)
    frac = (pos - lo)[:, None]
    return a[lo] * (1.0 - frac) + a[lo + 1] * frac


def _cepstral_envelope(mag: np.ndarray, n_ceps: int) -> np.ndarray:
    """Real cepstrum (n_fft, frames) of a smooth log-magnitude envelope of ``mag`` (bins, frames).

    The log magnitude is resampled onto a mel-spaced axis, liftered to ``n_ceps``
    coefficients and mapped back (a mel-cepstrum), so low frequencies keep more detail.
    """
    n_bins = mag.shape[0]
    n_fft = 2 * (n_bins - 1)
    mel_axis = hz_to_mel(np.linspace(0.0, SAMPLE_RATE / 2, n_bins))
    grid = np.linspace(0.0, mel_axis[-1], n_bins)
    warped = _interp_bins(np.log(mag + 1e-7), np.interp(grid, mel_axis, np.arange(n_bins)))
    ceps = np.fft.irfft(warped, n=n_fft, axis=0)
    ceps[n_ceps:n_fft - n_ceps + 1] = 0.0
    smooth_warped = np.fft.rfft(ceps, axis=0).real
    envelope = _interp_bins(smooth_warped, np.interp(mel_axis, grid, np.arange(n_bins)))
    return np.fft.irfft(envelope, n=n_fft, axis=0)


def _minimum_phase(ceps: np.ndarray) -> np.ndarray:
    """Minimum-phase frequency response (bins, frames) from a real cepstrum (n_fft, frames)."""
    n_fft = ceps.shape[0]
    fold = np.zeros((n_fft, 1))
    fold[0] = 1.0
    fold[1:n_fft // 2] = 2.0
    fold[n_fft // 2] = 1.0
    return np.exp(np.fft.rfft(ceps * fold, axis=0))


def _lpc_analysis(x: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pre-emphasised signal, LPC polynomials and gains, one row per 5 ms block."""
    emph = lfilter([1.0, -0.97], [1.0], x)
    width = 400
    frames = sliding_window_view(np.pad(emph, (width // 2, width)), width)[::BLOCK]
    frames = frames[: -(-len(x) // BLOCK)] * np.hamming(width)
    a, err = lpc(frames, order)
    return emph, a, np.sqrt(err / (0.4 * width))


def _lowpass_5k(x: np.ndarray) -> np.ndarray:
    """Round trip through 10 kHz sampling: nothing is left above 5 kHz."""
    return fit_length(resample_poly(resample_poly(x, 5, 8), 8, 5), len(x))


@lru_cache(maxsize=None)
def _mel_basis(n_mels: int, n_fft: int) -> tuple[sparse.csr_array, object]:
    """The mel filterbank as a sparse matrix, and the LU factors of ``fb @ fb.T``.

    Sparse products run on one thread: multi-threaded BLAS on these small products is
    many times slower on a busy 2-core machine.
    """
    fb = sparse.csr_array(mel_filterbank(n_mels, n_fft, SAMPLE_RATE))
    return fb, splu(sparse.csc_array(fb @ fb.T))


# --------------------------------------------------------------------------- attacks


def _atk_griffin_lim(x, info, rng, n_fft=1024, hop=256, n_iter=4, power=1.5):
    """Griffin-Lim from a coarse, sharpened magnitude (as in Tacotron's power 1.3-1.5)."""
    mag = np.abs(stft(x, n_fft, hop)) ** power
    return griffin_lim(mag, n_fft, hop, len(x), n_iter, rng)


def _atk_lpc(x, info, rng, order=12):
    _, a, gains = _lpc_analysis(x, order)
    exc = _pulse_noise_excitation(info["f0"], info["voiced"], rng)
    return lfilter([1.0], [1.0, -0.97], tv_allpole(exc, a, gains=gains))


def _atk_lpc_residual_coding(x, info, rng, order=16, bits=2):
    """LPCNet-like: the true LPC residual, mu-law coded with few bits per sample and
    normalised per block, drives the all-pole synthesis filter (envelope-shaped noise)."""
    n = len(x)
    emph, a, gains = _lpc_analysis(x, order)
    lagged = sliding_window_view(np.pad(emph, (order, 0)), order + 1)[:, ::-1]
    residual = np.sum(lagged * a[np.arange(n) // BLOCK], axis=1)
    scale = np.repeat(gains, BLOCK)[:n] * 8.0
    coded = mu_law(np.clip(residual / scale, -1.0, 1.0), bits) * scale
    return lfilter([1.0], [1.0, -0.97], tv_allpole(coded, a))


def _atk_mcep(x, info, rng, zero_phase=False, time_smooth=5, n_ceps=14, n_fft=512, hop=128):
    mag = np.abs(stft(x, n_fft, hop))
    if time_smooth > 1:
        mag = np.sqrt(smooth(mag ** 2, time_smooth, axis=1))
    ceps = _cepstral_envelope(mag, n_ceps)
    env = np.exp(np.fft.rfft(ceps, axis=0).real) if zero_phase else _minimum_phase(ceps)
    exc = _pulse_noise_excitation(info["f0"], info["voiced"], rng, noise_in_voiced=0.15)
    return istft(_unit_frames(stft(exc, n_fft, hop)) * env, n_fft, hop, len(x))


def _atk_bandlimit(x, info, rng):
    low = _lowpass_5k(x)
    mirrored = low * np.cos(np.pi * np.arange(len(x)))  # f -> 8 kHz - f
    image = mirrored - _lowpass_5k(mirrored)  # weak imaging above the cut-off
    return low + image * 10.0 ** (rng.uniform(-55.0, -45.0) / 20.0)


def _atk_ola(x, info, rng, width=512, hop=128, max_offset=0.015):
    """Frames read at jittered positions, put back where an STFT's frames belong."""
    n = len(x)
    jitter = int(max_offset * SAMPLE_RATE)
    n_frames = -(-n // hop) + width // hop
    pad = width + jitter + 1
    xp = np.pad(x, (pad, pad + n_frames * hop))
    starts = np.arange(n_frames) * hop - width // 2 + pad
    offsets = rng.integers(-jitter, jitter + 1, size=n_frames)
    # square-root Hann on both sides, so each frame is Hann-weighted once, as in plain OLA
    w = window("sqrthann", width)
    spec = np.fft.rfft(xp[(starts + offsets)[:, None] + np.arange(width)] * w, axis=1)
    return istft(spec.T / w.sum(), width, hop, n, kind="sqrthann")  # stft's scaling


def _atk_codec(x, info, rng, n_fft=512, step_db=9.0):
    floor_db = rng.uniform(16.0, 24.0)
    hop = n_fft // 2
    spec = stft(x, n_fft, hop, kind="sqrthann")
    mag = np.abs(spec)
    ldb = 20.0 * np.log10(mag + 1e-9)
    quantised = 10.0 ** (np.round(ldb / step_db) * step_db / 20.0)
    keep = ldb > (ldb.max(axis=0, keepdims=True) - floor_db)
    return istft(spec / (mag + 1e-12) * np.where(keep, quantised, 0.0), n_fft, hop, len(x),
                 kind="sqrthann")


def _atk_mulaw(x, info, rng, bits=5):
    peak = np.max(np.abs(x)) + 1e-12
    return mu_law(x / peak, bits) * peak


def _atk_mel_gl(x, info, rng, n_fft=1024, hop=256, n_mels=80, n_iter=4, power=1.3):
    fb, gram = _mel_basis(n_mels, n_fft)
    mel = fb @ np.abs(stft(x, n_fft, hop)) ** 2
    # pseudo-inverse: the least-norm linear spectrum fb.T (fb fb.T)^-1 mel (full row rank)
    linear = np.clip(fb.T @ gram.solve(mel), 0.0, None) ** (0.5 * power)
    return griffin_lim(linear, n_fft, hop, len(x), n_iter, rng)


def _atk_hnm(x, info, rng, max_harmonics=60, cutoff=4000.0, n_fft=512, hop=128):
    """Harmonic-plus-noise vocoder: sinusoids at k*f0 below ``cutoff`` where voiced, noise
    elsewhere, both shaped by a mel-cepstral envelope."""
    n = len(x)
    env = np.exp(np.fft.rfft(_cepstral_envelope(np.abs(stft(x, n_fft, hop)), 40), axis=0).real)
    f0 = info["f0"]
    voiced = smooth(info["voiced"].astype(np.float64), 80)
    phase = 2.0 * np.pi * np.cumsum(f0 / SAMPLE_RATE)
    block_pos = np.arange(0, n, BLOCK)
    block_frame = np.clip(np.round(block_pos / hop).astype(np.int64), 0, env.shape[1] - 1)
    f0_blocks = f0[block_pos]
    bin_hz = SAMPLE_RATE / n_fft
    harmonics = np.zeros(n)
    for k in range(1, max_harmonics + 1):
        fk = k * f0_blocks
        if fk.min() > cutoff:
            break
        bins = np.clip(np.round(fk / bin_hz).astype(np.int64), 0, env.shape[0] - 1)
        amp = np.interp(np.arange(n), block_pos, env[bins, block_frame] * (fk < cutoff))
        harmonics += amp * np.cos(k * phase + rng.uniform(0.0, 2.0 * np.pi))
    harmonics *= voiced * 2.0  # a sinusoid of amplitude A has |stft| A / 2 at its peak
    frame_voiced = voiced[np.clip(np.arange(env.shape[1]) * hop, 0, n - 1)][None, :]
    high = (np.arange(env.shape[0]) * bin_hz >= cutoff)[:, None]
    noise_gain = (1.0 - frame_voiced) + frame_voiced * high
    w = window("hann", n_fft)
    noise = stft(rng.standard_normal(n), n_fft, hop) * (w.sum() / np.sqrt(np.sum(w ** 2)))
    return harmonics + istft(noise * env * noise_gain, n_fft, hop, n)


def _atk_pitch_shift(x, info, rng, n_fft=1024, hop=256):
    """Phase-vocoder time stretch by r, then resample by r: pitch shifted, length kept."""
    n = len(x)
    r = rng.choice([0.8, 0.85, 0.9, 1.12, 1.18, 1.25])  # stretch factor
    spec = stft(x, n_fft, hop)
    pos = np.arange(int(np.ceil(spec.shape[1] * r))) / r
    i0 = np.clip(pos.astype(np.int64), 0, spec.shape[1] - 2)
    frac = pos - i0
    mag = np.abs(spec[:, i0]) * (1 - frac) + np.abs(spec[:, i0 + 1]) * frac
    omega = (2.0 * np.pi * hop * np.arange(spec.shape[0]) / n_fft)[:, None]
    dphi = np.angle(spec[:, i0 + 1]) - np.angle(spec[:, i0]) - omega
    dphi = dphi - 2.0 * np.pi * np.round(dphi / (2.0 * np.pi)) + omega
    phase = np.angle(spec[:, :1]) + np.concatenate([np.zeros((spec.shape[0], 1)),
                                                     np.cumsum(dphi[:, :-1], axis=1)], axis=1)
    stretched = istft(mag * np.exp(1j * phase), n_fft, hop, int(round(n * r)))
    return fit_length(resample_poly(stretched, 100, int(round(r * 100))), n)


def _atk_channel_vocoder(x, info, rng, n_bands=16, n_fft=512, hop=128):
    """Band energies in ``n_bands`` mel-spaced rectangular bands reimposed on a pulse +
    noise excitation (a piecewise-constant envelope)."""
    mag = np.abs(stft(x, n_fft, hop))
    mel = hz_to_mel(np.linspace(0.0, SAMPLE_RATE / 2, mag.shape[0]))
    band = np.minimum((mel / mel[-1] * n_bands).astype(np.int64), n_bands - 1)
    first = np.flatnonzero(np.diff(band, prepend=-1))  # each band's first bin
    width = np.diff(np.append(first, len(band)))
    energy = np.add.reduceat(mag ** 2, first, axis=0) / width[:, None]
    env = np.repeat(np.sqrt(energy), width, axis=0)  # every bin gets its band's level
    exc = _pulse_noise_excitation(info["f0"], info["voiced"], rng)
    return istft(_unit_frames(stft(exc, n_fft, hop)) * env, n_fft, hop, len(x))


def _atk_freq_warp(x, info, rng, n_fft=512, hop=128):
    """Voice conversion by frequency warping of the magnitude, keeping the source phase."""
    spec = stft(x, n_fft, hop)
    mag = np.abs(spec)
    alpha = rng.choice([0.8, 0.86, 1.15, 1.22])
    n_bins = mag.shape[0]
    warped = _interp_bins(mag, np.clip(np.arange(n_bins) / alpha, 0, n_bins - 1))
    return istft(warped * spec / (mag + 1e-12), n_fft, hop, len(x))


def _atk_gl_envelope(x, info, rng):
    return _atk_griffin_lim(_atk_mcep(x, info, rng), info, rng, n_iter=10)


def _chain(*steps: Attack) -> Attack:
    def run(x, info, rng):
        for step in steps:
            x = step(x, info, rng)
        return x
    return run


ATTACKS: dict[str, Attack] = {
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
    "A17": _chain(_atk_ola, partial(_atk_mulaw, bits=4)),
    "A18": partial(_atk_mcep, zero_phase=True, time_smooth=9),
    "A19": _atk_codec,
}
TRAIN_ATTACKS = ("A01", "A02", "A03", "A04", "A05", "A06")
EVAL_ATTACKS = tuple(f"A{i:02d}" for i in range(7, 20))
