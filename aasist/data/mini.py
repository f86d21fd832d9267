"""A small synthetic corpus in the exact ASVspoof 2019 LA layout, for demos, tests and CI.

``make_mini(dest)`` writes ``dest/LA/`` with the same folders, file names and text formats
as the real LA.zip, so every reader, dataset, training loop and metric in
the package can run end to end in seconds without the 7 GB download::

    LA/ASVspoof2019_LA_{train,dev,eval}/flac/LA_{T,D,E}_<id>.flac     16 kHz, 16-bit, mono
    LA/ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.{train.trn,dev.trl,eval.trl}.txt
    LA/ASVspoof2019_LA_asv_scores/ASVspoof2019.LA.asv.{dev,eval}.gi.trl.scores.txt

What is in it
-------------
*Bona fide* utterances come from a source-filter speech model: a glottal pulse train
(Rosenberg pulse, declining pitch contour with accents, jitter, shimmer, aspiration) drives a
cascade of six time-varying formant resonators that move between vowel and consonant
targets; fricatives and plosive bursts are shaped noise; voiced sounds carry breathy
turbulence noise above ~3.5 kHz, modulated by the glottal flow (pitch-synchronous bursts) at
a speaker-specific level; there are pauses, a bright close-talking microphone (first-order
high-frequency emphasis), background noise and a random gain.  Speech starts 10-40 ms into
each clip.  Each "speaker" (``LA_00xx``) has its own pitch range, formant scaling, voice
quality and speaking rate.

*Spoofed* utterances are built from the same kind of content (a bona-fide-like utterance of
a speaker of the same split, with the same duration, loudness and noise-floor distributions,
drawn from a random stream that the attacks never touch) and then re-synthesised by one of
several genuinely different vocoders, one per attack id, so the artefacts (not level,
length, DC or silence) are what separates the classes.  Train and dev use A01-A06; eval
uses A07-A19, where A16 and A19 reuse the algorithms of A04 and A06 (as in ASVspoof 2019),
some ids combine known artefacts and the others are unseen ones:

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

Why the artefacts are this strong: the corpus is made so that ``python -m aasist train
--config config/mini.conf`` teaches AASIST-L something real within minutes on two CPU cores
(README, "Quickstart", has the measured time and EERs).  AASIST's fixed sinc filterbank
and graph pooling pick up broad, consistent differences first and subtle ones very slowly,
so the bona fide voice has consistent high-band content (which band-limiting, smooth
envelopes, pulse excitation and magnitude-only phase reconstruction visibly change), speech
starts at once (evaluation scores the first ``nb_samp`` samples), and each vocoder is a
coarse, low-quality version of its kind.  Nothing else differs between the classes.

ASV score files hold synthetic but plausible scores (targets high, non-targets low, spoofs in
between, per attack), so the min t-DCF can be computed on the dev and eval splits.

Determinism: every utterance is drawn from its own random stream seeded by
``(seed, split, index)``; the same seed gives byte-identical files, in any order.

Robustness: ``LA/.mini_config.json`` (seed and sizes) is written first and marks the folder
as generated; every file is written to a temporary name and renamed into place; the marker
``LA/.mini_complete.json`` is written last.  ``ensure_mini`` returns at once when the marker
matches the requested seed and sizes and (re)generates otherwise, so an interrupted run is
simply redone (finished audio files of the same configuration are reused, those of another
configuration deleted).  A folder holding a corpus not made here (the real LA) is never
touched.

Speed: the default corpus (2,100 utterances, about 70 minutes of audio) is generated with
numpy and scipy in well under a minute on two CPU cores.
"""
from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import soundfile as sf
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import butter, lfilter, resample_poly, sosfilt
from tqdm.auto import tqdm

from ..errors import ConfigError, DataError
from ..melscale import hz_to_mel, mel_filterbank

__all__ = [
    "SAMPLE_RATE",
    "TRAIN_ATTACKS",
    "EVAL_ATTACKS",
    "DEFAULT_SIZES",
    "MARKER_NAME",
    "make_mini",
    "ensure_mini",
    "synthesize_utterance",
]

SAMPLE_RATE = 16000
GENERATOR_VERSION = 3

SPLITS = ("train", "dev", "eval")
TRAIN_ATTACKS = ("A01", "A02", "A03", "A04", "A05", "A06")
EVAL_ATTACKS = tuple(f"A{i:02d}" for i in range(7, 20))
SPLIT_ATTACKS = {"train": TRAIN_ATTACKS, "dev": TRAIN_ATTACKS, "eval": EVAL_ATTACKS}

#: (bona fide, spoof) utterance counts per split.
DEFAULT_SIZES: dict[str, tuple[int, int]] = {
    "train": (360, 840),
    "dev": (60, 140),
    "eval": (210, 490),
}

MARKER_NAME = ".mini_complete.json"
_OWNER_NAME = ".mini_config.json"  # written first: this folder is ours, with this config

_SPLIT_CODE = {"train": 1, "dev": 2, "eval": 3}
_UTT_PREFIX = {"train": "LA_T_", "dev": "LA_D_", "eval": "LA_E_"}
_PROTOCOL_DIR = "ASVspoof2019_LA_cm_protocols"
_ASV_DIR = "ASVspoof2019_LA_asv_scores"
_PROTOCOL_FILE = {
    "train": "ASVspoof2019.LA.cm.train.trn.txt",
    "dev": "ASVspoof2019.LA.cm.dev.trl.txt",
    "eval": "ASVspoof2019.LA.cm.eval.trl.txt",
}
_ASV_FILE = {
    "dev": "ASVspoof2019.LA.asv.dev.gi.trl.scores.txt",
    "eval": "ASVspoof2019.LA.asv.eval.gi.trl.scores.txt",
}
# Disjoint speaker pools, numbered as in the real corpus (train LA_0079-LA_0098, dev
# LA_0069-LA_0078, eval from LA_0001).
_SPEAKERS = {
    "train": tuple(range(79, 99)),
    "dev": tuple(range(69, 79)),
    "eval": tuple(range(1, 25)),
}

_SR = SAMPLE_RATE
_BLOCK = 80  # samples per control frame (5 ms): formant tracks, LPC frames
_MIN_DUR, _MAX_DUR = 1.0, 3.0  # seconds
# Final level, identical distribution for both classes; low enough that even the peakiest
# vocoder output (crest factor ~26 dB) is almost never scaled down to avoid clipping.
_RMS_DBFS = (-35.0, -26.0)
_HIGHPASS = butter(4, 3500.0, btype="highpass", fs=SAMPLE_RATE, output="sos")

# Vowel formant targets (F1, F2, F3 in Hz, adult male; Peterson & Barney-like).
_VOWELS = np.array([
    [270, 2290, 3010], [390, 1990, 2550], [530, 1840, 2480], [660, 1720, 2410],
    [730, 1090, 2440], [570, 840, 2410], [440, 1020, 2240], [300, 870, 2240],
    [640, 1190, 2390], [490, 1350, 1690], [500, 1500, 2500],
], dtype=np.float64)
# Sonorant consonants (nasals, liquids, glides): F1, F2, F3, relative amplitude.
_SONORANTS = np.array([
    [250, 1100, 2400, 0.30], [250, 1700, 2600, 0.30], [350, 1100, 2600, 0.50],
    [330, 1050, 1550, 0.55], [300, 700, 2200, 0.50], [280, 2100, 2900, 0.50],
], dtype=np.float64)
# Fricative noise shapes: centre frequency, bandwidth (Hz), level.
_FRICATIVES = np.array([
    [5800, 2000, 0.30], [3200, 1200, 0.30], [5000, 4000, 0.12], [7000, 2000, 0.10],
    [2000, 1500, 0.08],
], dtype=np.float64)


# --------------------------------------------------------------------------- utilities


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(k) for k in key]))


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Moving average along axis 0 with edge padding, same length."""
    if width <= 1:
        return x
    left = width // 2
    right = width - 1 - left
    pad = [(left, right)] + [(0, 0)] * (x.ndim - 1)
    xp = np.pad(x, pad, mode="edge")
    c = np.cumsum(xp, axis=0)
    c = np.concatenate([np.zeros((1,) + x.shape[1:]), c], axis=0)
    return (c[width:] - c[:-width]) / width


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x * x) + 1e-20))


def _frame_to_sample(track: np.ndarray, n: int) -> np.ndarray:
    """Linear interpolation of a per-frame (5 ms) track to per-sample values."""
    centres = (np.arange(len(track)) + 0.5) * _BLOCK
    return np.interp(np.arange(n), centres, track)


def _resonator_coeffs(freq: np.ndarray, bw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = np.exp(-np.pi * bw / _SR)
    return -2.0 * r * np.cos(2.0 * np.pi * freq / _SR), r * r


def _allpole_polys(freqs: np.ndarray, bws: np.ndarray) -> np.ndarray:
    """Cascade of 2-pole resonators -> denominator polynomials, one row per frame.

    ``freqs``/``bws``: (frames, sections).  The gain is normalised to 1 at DC.
    """
    n_frames, n_sec = freqs.shape
    a1, a2 = _resonator_coeffs(freqs, bws)
    poly = np.zeros((n_frames, 2 * n_sec + 1))
    poly[:, 0] = 1.0
    for s in range(n_sec):
        new = poly.copy()
        new[:, 1:] += a1[:, s:s + 1] * poly[:, :-1]
        new[:, 2:] += a2[:, s:s + 1] * poly[:, :-2]
        poly = new
    return poly


_STATE_INDEX: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _tv_allpole(x: np.ndarray, polys: np.ndarray, gains: np.ndarray | None = None) -> np.ndarray:
    """Time-varying all-pole filter: row k of ``polys`` is used for samples k*80..k*80+79.

    At each block boundary the filter state is rebuilt from the past outputs with the new
    coefficients, so the result is the direct-form recursion
    ``y[n] = g(n) x[n] - sum_j a_j(n) y[n-j]`` exactly, as in a formant synthesiser.
    """
    n = len(x)
    y = np.zeros(n)
    order = polys.shape[1] - 1
    if order not in _STATE_INDEX:
        i, j = np.meshgrid(np.arange(order), np.arange(1, order + 1), indexing="ij")
        _STATE_INDEX[order] = (np.clip(j - i - 1, 0, order - 1), (j > i).astype(np.float64))
    index, mask = _STATE_INDEX[order]
    if gains is None:
        gains = np.ones(len(polys))
    n_blocks = -(-n // _BLOCK)
    rows = np.minimum(np.arange(n_blocks), len(polys) - 1)
    coeffs = np.concatenate([polys[rows], gains[np.minimum(rows, len(gains) - 1), None]], axis=1)
    # consecutive blocks with identical coefficients are filtered in one call
    starts = np.flatnonzero(np.concatenate([[True], np.any(coeffs[1:] != coeffs[:-1], axis=1)]))
    ends = np.append(starts[1:], n_blocks)
    past = np.zeros(order)  # y[start-1], y[start-2], ...
    for k0, k1 in zip(starts, ends):
        a = coeffs[k0, :-1]
        start, stop = k0 * _BLOCK, min(k1 * _BLOCK, n)
        zi = -(past[index] * mask) @ a[1:]
        y[start:stop], _ = lfilter(coeffs[k0, -1:], a, x[start:stop], zi=zi)
        tail = y[max(0, stop - order):stop][::-1]
        past[: len(tail)] = tail
    return y


def _resonate(x: np.ndarray, freq: float, bw: float) -> np.ndarray:
    """Static 2-pole band-pass (zeros at DC and Nyquist)."""
    a1, a2 = _resonator_coeffs(np.array(freq), np.array(bw))
    return lfilter([1.0, 0.0, -1.0], [1.0, float(a1), float(a2)], x)


def _one_pole_lowpass(x: np.ndarray, c: float) -> np.ndarray:
    return lfilter([1.0 - c], [1.0, -c], x)


def _fit_length(x: np.ndarray, n: int) -> np.ndarray:
    if len(x) >= n:
        return x[:n]
    return np.concatenate([x, np.zeros(n - len(x))])


# STFT helpers (numpy only, so results are bit-reproducible on a given machine).

_WINDOWS: dict[tuple[str, int], np.ndarray] = {}


def _window(kind: str, n: int) -> np.ndarray:
    key = (kind, n)
    if key not in _WINDOWS:
        w = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)  # periodic Hann
        _WINDOWS[key] = np.sqrt(w) if kind == "sqrthann" else w
    return _WINDOWS[key]


def _frames(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    n = len(x)
    n_frames = -(-n // hop) + 1
    padded = np.zeros((n_frames - 1) * hop + n_fft)
    pad = n_fft // 2
    padded[pad:pad + n] = x[: len(padded) - pad]
    return sliding_window_view(padded, n_fft)[::hop][:n_frames]


def _stft(x: np.ndarray, n_fft: int, hop: int, win: str = "hann") -> np.ndarray:
    return np.fft.rfft(_frames(x, n_fft, hop) * _window(win, n_fft), axis=1)


def _overlap_add(frames: np.ndarray, hop: int) -> np.ndarray:
    n_frames, width = frames.shape
    ratio = width // hop
    out = np.zeros((n_frames + ratio - 1, hop))
    chunks = frames.reshape(n_frames, ratio, hop)
    for r in range(ratio):
        out[r:r + n_frames] += chunks[:, r]
    return out.ravel()


def _istft(spec: np.ndarray, n_fft: int, hop: int, n: int, win: str = "hann") -> np.ndarray:
    w = _window(win, n_fft)
    frames = np.fft.irfft(spec, n=n_fft, axis=1) * w
    y = _overlap_add(frames, hop)
    norm = _overlap_add(np.broadcast_to(w * w, frames.shape), hop)
    y = y / np.maximum(norm, 1e-3 * norm.max())
    pad = n_fft // 2
    return _fit_length(y[pad:pad + n], n)


def _griffin_lim(mag: np.ndarray, n_fft: int, hop: int, n: int, n_iter: int,
                 rng: np.random.Generator, momentum: float = 0.99) -> np.ndarray:
    """Fast Griffin-Lim (Perraudin et al. 2013) from a random initial phase."""
    angles = np.exp(2j * np.pi * rng.random(mag.shape))
    prev = np.zeros_like(angles)
    alpha = momentum / (1.0 + momentum)
    for _ in range(n_iter):
        rebuilt = _stft(_istft(mag * angles, n_fft, hop, n), n_fft, hop)
        angles = rebuilt - alpha * prev
        angles /= np.abs(angles) + 1e-16
        prev = rebuilt
    return _istft(mag * angles, n_fft, hop, n)


def _lpc(frames: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Autocorrelation-method LPC (Levinson-Durbin), vectorised over frames."""
    n_fft = 1 << int(np.ceil(np.log2(2 * frames.shape[1])))
    spec = np.fft.rfft(frames, n=n_fft, axis=1)
    r = np.fft.irfft(np.abs(spec) ** 2, n=n_fft, axis=1)[:, : order + 1]
    lag = np.exp(-0.5 * (2 * np.pi * 40.0 * np.arange(order + 1) / _SR) ** 2)  # 40 Hz lag window
    r = r * lag
    r[:, 0] = r[:, 0] * (1.0 + 1e-6) + 1e-12
    a = np.zeros((len(frames), order + 1))
    a[:, 0] = 1.0
    err = r[:, 0].copy()
    for i in range(1, order + 1):
        acc = r[:, i] + np.sum(a[:, 1:i] * r[:, i - 1:0:-1], axis=1)
        k = -acc / err
        a[:, 1:i] = a[:, 1:i] + k[:, None] * a[:, i - 1:0:-1]
        a[:, i] = k
        err = err * (1.0 - k * k)
    return a, np.maximum(err, 1e-12)


def _interp_columns(a: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Linear interpolation of every row of ``a`` at fractional column positions ``pos``."""
    lo = np.clip(np.floor(pos).astype(np.int64), 0, a.shape[1] - 2)
    frac = pos - lo
    return a[:, lo] * (1.0 - frac) + a[:, lo + 1] * frac


def _cepstral_envelope(mag: np.ndarray, n_ceps: int) -> np.ndarray:
    """Smooth log-magnitude envelope via mel-warped cepstral liftering (a mel-cepstrum).

    Returns the real cepstrum of the envelope on the linear frequency grid, shape
    (frames, n_fft) so callers can fold it for minimum phase.
    """
    n_bins = mag.shape[1]
    n_fft = 2 * (n_bins - 1)
    logmag = np.log(mag + 1e-7)
    hz = np.linspace(0.0, _SR / 2, n_bins)
    mel_axis = hz_to_mel(hz)
    grid = np.linspace(0.0, mel_axis[-1], n_bins)
    warped = _interp_columns(logmag, np.interp(grid, mel_axis, np.arange(n_bins)))
    ceps = np.fft.irfft(warped, n=n_fft, axis=1)
    ceps[:, n_ceps:n_fft - n_ceps + 1] = 0.0
    smooth_warped = np.fft.rfft(ceps, axis=1).real
    smooth = _interp_columns(smooth_warped, np.interp(mel_axis, grid, np.arange(n_bins)))
    return np.fft.irfft(smooth, n=n_fft, axis=1)


def _minimum_phase(ceps: np.ndarray) -> np.ndarray:
    """Minimum-phase frequency response from a real cepstrum (frames, n_fft)."""
    n_fft = ceps.shape[1]
    fold = np.zeros(n_fft)
    fold[0] = 1.0
    fold[1:n_fft // 2] = 2.0
    fold[n_fft // 2] = 1.0
    return np.exp(np.fft.rfft(ceps * fold, axis=1))


def _pulse_noise_excitation(f0: np.ndarray, voiced: np.ndarray, rng: np.random.Generator,
                            noise_in_voiced: float = 0.0) -> np.ndarray:
    """Classic vocoder excitation: unit-power impulse train where voiced, noise elsewhere."""
    n = len(f0)
    phase = np.cumsum(f0 / _SR) + rng.random()
    pulses = np.zeros(n)
    idx = np.flatnonzero(np.diff(np.floor(phase), prepend=np.floor(phase[0])) > 0)
    pulses[idx] = np.sqrt(_SR / f0[idx])
    noise = rng.standard_normal(n)
    v = voiced.astype(np.float64)
    return v * (pulses + noise_in_voiced * noise) + (1.0 - v) * noise


# --------------------------------------------------------------------------- speakers


def _speaker(seed: int, number: int) -> dict:
    rng = _rng(seed, 7919, number)
    female = bool(rng.random() < 0.5)
    return {
        "id": f"LA_{number:04d}",
        "f0": rng.uniform(175.0, 250.0) if female else rng.uniform(90.0, 140.0),
        "range": rng.uniform(2.0, 6.0),  # semitones of declination + accents
        "formant_scale": rng.uniform(1.07, 1.2) if female else rng.uniform(0.9, 1.02),
        "jitter": rng.uniform(0.003, 0.012),
        "shimmer": rng.uniform(0.02, 0.08),
        "open_quotient": rng.uniform(0.45, 0.75),
        "breath": rng.uniform(0.02, 0.06),
        "hiss_db": rng.uniform(-30.0, -25.0),
        "closing": rng.uniform(0.12, 0.3),
        "tilt": rng.uniform(0.0, 0.3),
        "rate": rng.uniform(0.8, 1.25),
        "bw_scale": rng.uniform(0.8, 1.3),
        "f456": rng.uniform(0.95, 1.05, size=3),
    }


# --------------------------------------------------------------------------- bona fide


def _plan(rng: np.random.Generator, n_frames: int, spk: dict) -> dict:
    """Frame-level control tracks (5 ms frames) for one utterance."""
    fs = spk["formant_scale"]
    formants = np.zeros((n_frames, 3))
    voice = np.zeros(n_frames)
    noise_events: list[tuple[int, int, float, float, float, str]] = []

    lead = int(rng.uniform(0.01, 0.04) * 200)
    trail = int(rng.uniform(0.04, 0.2) * 200)
    t = lead
    current = _VOWELS[rng.integers(len(_VOWELS))] * fs
    formants[:t] = current
    kinds = ("vowel", "sonorant", "fricative", "plosive", "pause")
    probs = (0.45, 0.2, 0.17, 0.12, 0.06)
    phrase_gain = 1.0
    while t < n_frames - trail:
        kind = kinds[rng.choice(5, p=probs)]
        scale = spk["rate"]
        if kind == "vowel":
            length = int(rng.uniform(14, 40) * scale)
            current = _VOWELS[rng.integers(len(_VOWELS))] * fs * rng.uniform(0.94, 1.06, 3)
            amp = rng.uniform(0.6, 1.0) * phrase_gain
            end = min(t + length, n_frames - trail)
            formants[t:end] = current
            voice[t:end] = amp
        elif kind == "sonorant":
            length = int(rng.uniform(8, 18) * scale)
            s = _SONORANTS[rng.integers(len(_SONORANTS))]
            current = s[:3] * fs
            end = min(t + length, n_frames - trail)
            formants[t:end] = current
            voice[t:end] = s[3] * rng.uniform(0.7, 1.0) * phrase_gain
        elif kind == "fricative":
            length = int(rng.uniform(12, 32) * scale)
            end = min(t + length, n_frames - trail)
            f = _FRICATIVES[rng.integers(len(_FRICATIVES))]
            formants[t:end] = current
            voiced = rng.random() < 0.3
            if voiced:
                voice[t:end] = 0.25 * phrase_gain
            noise_events.append((t, end, f[0] * rng.uniform(0.9, 1.1) * min(fs, 1.1),
                                 f[1], f[2] * rng.uniform(0.6, 1.4) * phrase_gain, "fric"))
        elif kind == "plosive":
            closure = int(rng.uniform(6, 14) * scale)
            burst = int(rng.uniform(2, 5))
            end = min(t + closure + burst, n_frames - trail)
            formants[t:end] = current
            centre = rng.choice([1500.0, 2500.0, 4000.0])
            noise_events.append((min(t + closure, end - 1), end, centre * min(fs, 1.1), 3000.0,
                                 rng.uniform(0.3, 0.7) * phrase_gain, "burst"))
            if rng.random() < 0.5:  # aspiration after the burst
                asp_end = min(end + int(rng.uniform(4, 10)), n_frames - trail)
                formants[end:asp_end] = current
                noise_events.append((end, asp_end, 1800.0 * fs, 2500.0,
                                     rng.uniform(0.05, 0.12) * phrase_gain, "fric"))
                end = asp_end
        else:
            length = int(rng.uniform(20, 60))
            end = min(t + length, n_frames - trail)
            formants[t:end] = current
            phrase_gain = rng.uniform(0.75, 1.0)
        t = max(end, t + 1)
    formants[t:] = current

    formants = _smooth(formants, 7)
    high = np.array([3500.0, 4500.0, 5800.0]) * fs * spk["f456"]
    all_f = np.concatenate([formants, np.broadcast_to(high, (n_frames, 3))], axis=1)
    all_f = np.minimum(all_f, 0.45 * _SR)
    bws = np.array([60.0, 90.0, 150.0, 220.0, 300.0, 400.0]) * spk["bw_scale"]
    bws = bws + 0.02 * all_f
    voice = _smooth(_smooth(voice, 3), 3)
    return {"formants": all_f, "bandwidths": bws, "voice": voice, "noise_events": noise_events}


def _f0_contour(rng: np.random.Generator, n_frames: int, spk: dict) -> np.ndarray:
    t = np.arange(n_frames) / 200.0
    dur = n_frames / 200.0
    semis = spk["range"] * rng.uniform(0.4, 0.8) * (0.5 - t / dur)  # declination
    for _ in range(rng.integers(1, 2 + int(dur * 1.5))):
        centre = rng.uniform(0.0, dur)
        width = rng.uniform(0.08, 0.25)
        semis += spk["range"] * rng.uniform(0.2, 0.7) * np.exp(-0.5 * ((t - centre) / width) ** 2)
    drift = _smooth(rng.standard_normal(n_frames + 40), 40)[20:20 + n_frames]
    semis += 4.0 * drift
    return spk["f0"] * 2.0 ** (semis / 12.0)


def _rosenberg(frac: np.ndarray, oq: float, closing: float) -> np.ndarray:
    """Rosenberg glottal flow pulse on the phase within the period, ``frac`` in [0, 1)."""
    tp = (1.0 - closing) * oq
    tn = closing * oq
    g = np.where(frac < tp, 0.5 - 0.5 * np.cos(np.pi * frac / tp), 0.0)
    in_closing = (frac >= tp) & (frac < tp + tn)
    g = np.where(in_closing, np.cos(0.5 * np.pi * (frac - tp) / tn), g)
    return g


def _bonafide(rng: np.random.Generator, spk: dict, n: int) -> tuple[np.ndarray, dict]:
    """One clean-ish bona fide utterance of ``n`` samples and its generation parameters."""
    n_frames = -(-n // _BLOCK) + 1
    plan = _plan(rng, n_frames, spk)
    f0_frames = _f0_contour(rng, n_frames, spk)
    f0 = _frame_to_sample(f0_frames, n)
    voice = _frame_to_sample(plan["voice"], n)

    # Glottal source: Rosenberg pulses with jitter (per period) and shimmer.
    phase0 = np.cumsum(f0 / _SR)
    jitter = 1.0 + spk["jitter"] * rng.standard_normal(int(phase0[-1]) + 3)
    phase = np.cumsum(f0 * jitter[phase0.astype(np.int64)] / _SR) + rng.random()
    period = phase.astype(np.int64)
    frac = phase - period
    oq = spk["open_quotient"]
    glottal = _rosenberg(frac, oq, spk["closing"])
    shimmer = 1.0 + spk["shimmer"] * rng.standard_normal(int(period[-1]) + 2)
    source = np.diff(glottal, prepend=glottal[0]) * shimmer[period]
    source = _one_pole_lowpass(source, spk["tilt"])
    source /= _rms(source)
    aspiration = rng.standard_normal(n) * (0.3 + glottal) * spk["breath"] * 4.0
    excitation = voice * (source + aspiration)

    polys = _allpole_polys(plan["formants"], np.broadcast_to(plan["bandwidths"],
                                                              plan["formants"].shape))
    voiced_out = _tv_allpole(excitation, polys, gains=polys.sum(axis=1))
    active = voice > 0.5 * max(voice.max(), 1e-9)
    if active.any():
        voiced_out /= _rms(voiced_out[active])
    # Breathy high band: turbulence noise above ~3.5 kHz, modulated by the glottal flow, at
    # a speaker-specific level relative to the voiced sound (consistent 4-8 kHz content).
    hiss = sosfilt(_HIGHPASS, rng.standard_normal(n)) * (0.15 + glottal) * voice
    hiss_active = hiss[active] if active.any() else hiss
    voiced_out += hiss / _rms(hiss_active) * 10.0 ** (spk["hiss_db"] / 20.0)

    noise_out = np.zeros(n)
    for start, end, centre, bw, level, kind in plan["noise_events"]:
        s0, s1 = start * _BLOCK, min(end * _BLOCK, n)
        length = s1 - s0
        if length < 16:
            continue
        seg = _resonate(rng.standard_normal(length + 64), centre, bw)[64:]
        if kind == "burst":
            env = np.exp(-np.arange(length) / (0.006 * _SR))
        else:
            ramp = min(length // 3, int(0.015 * _SR))
            env = np.ones(length)
            env[:ramp] = np.linspace(0.0, 1.0, ramp)
            env[length - ramp:] = np.linspace(1.0, 0.0, ramp)
        noise_out[s0:s1] += seg / _rms(seg) * env * level
    speech = voiced_out + noise_out

    # Recording channel: DC-blocking high-pass, random tilt, background noise.
    speech = lfilter([1.0, -1.0], [1.0, -rng.uniform(0.97, 0.995)], speech)
    speech = lfilter([1.0, -rng.uniform(0.6, 0.85)], [1.0], speech)  # bright close-talk mic
    noise = _one_pole_lowpass(rng.standard_normal(n), rng.uniform(0.0, 0.5))
    snr_db = rng.uniform(30.0, 45.0)
    speech = speech + noise / _rms(noise) * _rms(speech) * 10.0 ** (-snr_db / 20.0)
    info = {"f0": f0, "voiced": voice > 0.12, "voice": voice, "speaker": spk}
    return speech, info


# --------------------------------------------------------------------------- attacks


def _atk_griffin_lim(x, info, rng, n_fft=1024, hop=256, n_iter=4, power=1.5):
    """Griffin-Lim from a coarse, sharpened magnitude (as in Tacotron's power=1.3-1.5)."""
    mag = np.abs(_stft(x, n_fft, hop)) ** power
    return _griffin_lim(mag, n_fft, hop, len(x), n_iter, rng)


def _lpc_analysis(x: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pre-emphasised signal, LPC polynomials and gains, one row per 5 ms block."""
    emph = lfilter([1.0, -0.97], [1.0], x)
    width = 400
    frames = sliding_window_view(np.pad(emph, (width // 2, width)), width)[::_BLOCK]
    frames = frames[: -(-len(x) // _BLOCK)] * np.hamming(width)
    a, err = _lpc(frames, order)
    return emph, a, np.sqrt(err / (0.4 * width))


def _atk_lpc(x, info, rng, order=12):
    _, a, gains = _lpc_analysis(x, order)
    exc = _pulse_noise_excitation(info["f0"], info["voiced"], rng)
    y = _tv_allpole(exc, a, gains=gains)
    return lfilter([1.0], [1.0, -0.97], y)


def _atk_lpc_residual_coding(x, info, rng, order=16, bits=2):
    """LPCNet-like: the true LPC residual, mu-law coded with few bits per sample and
    normalised per block, drives the all-pole synthesis filter (envelope-shaped noise)."""
    n = len(x)
    emph, a, gains = _lpc_analysis(x, order)
    lagged = sliding_window_view(np.pad(emph, (order, 0)), order + 1)[:, ::-1]
    residual = np.sum(lagged * a[np.arange(n) // _BLOCK], axis=1)
    scale = np.repeat(gains, _BLOCK)[:n] * 8.0
    coded = _mu_law_round_trip(np.clip(residual / scale, -1.0, 1.0), bits) * scale
    y = _tv_allpole(coded, a)
    return lfilter([1.0], [1.0, -0.97], y)


def _atk_mcep(x, info, rng, zero_phase=False, time_smooth=5, n_ceps=14):
    n_fft, hop = 512, 128
    n = len(x)
    mag = np.abs(_stft(x, n_fft, hop))
    if time_smooth > 1:
        mag = np.sqrt(_smooth(mag ** 2, time_smooth))
    ceps = _cepstral_envelope(mag, n_ceps)
    if zero_phase:
        env = np.exp(np.fft.rfft(ceps, axis=1).real)
    else:
        env = _minimum_phase(ceps)
    exc = _pulse_noise_excitation(info["f0"], info["voiced"], rng, noise_in_voiced=0.15)
    exc_spec = _stft(exc, n_fft, hop)
    # normalise the excitation spectrum frame by frame so the envelope sets the level
    exc_spec /= np.sqrt(np.mean(np.abs(exc_spec) ** 2, axis=1, keepdims=True)) + 1e-9
    return _istft(exc_spec * env, n_fft, hop, n)


def _lowpass_5k(x: np.ndarray) -> np.ndarray:
    """Round trip through 10 kHz sampling: nothing is left above 5 kHz."""
    return _fit_length(resample_poly(resample_poly(x, 5, 8), 8, 5), len(x))


def _atk_bandlimit(x, info, rng):
    low = _lowpass_5k(x)
    mirrored = low * np.cos(np.pi * np.arange(len(x)))  # f -> 8 kHz - f
    image = mirrored - _lowpass_5k(mirrored)  # weak imaging above the cut-off
    return low + image * 10.0 ** (rng.uniform(-55.0, -45.0) / 20.0)


def _atk_ola(x, info, rng, width=512, hop=128, max_offset=0.015):
    n = len(x)
    n_frames = -(-n // hop) + width // hop
    pad = width + int(max_offset * _SR) + 1
    xp = np.pad(x, (pad, pad + n_frames * hop))
    starts = np.arange(n_frames) * hop - width // 2 + pad
    offsets = rng.integers(-int(max_offset * _SR), int(max_offset * _SR) + 1, size=n_frames)
    frames = xp[(starts + offsets)[:, None] + np.arange(width)] * _window("hann", width)
    y = _overlap_add(frames, hop)
    norm = _overlap_add(np.broadcast_to(_window("hann", width), frames.shape), hop)
    y = y / np.maximum(norm, 1e-3 * norm.max())
    return _fit_length(y[width // 2:], n)


def _atk_codec(x, info, rng, n_fft=512, step_db=9.0):
    n = len(x)
    floor_db = rng.uniform(16.0, 24.0)
    hop = n_fft // 2
    spec = _stft(x, n_fft, hop, win="sqrthann")
    mag = np.abs(spec)
    ldb = 20.0 * np.log10(mag + 1e-9)
    q = np.round(ldb / step_db) * step_db
    keep = ldb > (ldb.max(axis=1, keepdims=True) - floor_db)
    qmag = np.where(keep, 10.0 ** (q / 20.0), 0.0)
    return _istft(spec / (mag + 1e-12) * qmag, n_fft, hop, n, win="sqrthann")


def _mu_law_round_trip(v: np.ndarray, bits: int) -> np.ndarray:
    """mu-law (mu = 255) encode to ``bits`` bits and decode: values in [-1, 1] -> [-1, 1]."""
    mu = 255.0
    c = np.sign(v) * np.log1p(mu * np.abs(v)) / np.log1p(mu)
    levels = 2 ** (bits - 1)
    c = np.round(c * levels) / levels
    return np.sign(c) * np.expm1(np.abs(c) * np.log1p(mu)) / mu


def _atk_mulaw(x, info, rng, bits=5):
    peak = np.max(np.abs(x)) + 1e-12
    return _mu_law_round_trip(x / peak, bits) * peak


_MEL_CACHE: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def _atk_mel_gl(x, info, rng, n_fft=1024, hop=256, n_mels=80, n_iter=4, power=1.3):
    key = (n_mels, n_fft)
    if key not in _MEL_CACHE:
        fb = mel_filterbank(n_mels, n_fft, _SR)
        _MEL_CACHE[key] = (fb, np.linalg.pinv(fb))
    fb, inv = _MEL_CACHE[key]
    mag = np.abs(_stft(x, n_fft, hop))
    mel = mag ** 2 @ fb.T
    lin = np.clip(mel @ inv.T, 0.0, None) ** (0.5 * power)
    return _griffin_lim(lin, n_fft, hop, len(x), n_iter, rng)


def _atk_hnm(x, info, rng, max_harmonics=60, cutoff=4000.0):
    """Harmonic-plus-noise vocoder: sinusoids at k*f0 below ``cutoff`` where voiced, noise
    elsewhere, both shaped by a mel-cepstral envelope."""
    n = len(x)
    n_fft, hop = 512, 128
    mag = np.abs(_stft(x, n_fft, hop))
    env = np.exp(np.fft.rfft(_cepstral_envelope(mag, 40), axis=1).real)
    f0 = info["f0"]
    voiced = _smooth(info["voiced"].astype(np.float64), 80)
    phase = 2.0 * np.pi * np.cumsum(f0 / _SR)
    block_pos = np.arange(0, n, _BLOCK)
    block_frame = np.clip(np.round(block_pos / hop).astype(np.int64), 0, len(env) - 1)
    f0_blocks = f0[block_pos]
    bin_hz = _SR / n_fft
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
    noise = _stft(rng.standard_normal(n), n_fft, hop) / np.sqrt(3.0 * n_fft / 8.0)
    return harmonics + _istft(noise * env * noise_gain, n_fft, hop, n)


def _atk_pitch_shift(x, info, rng, n_fft=1024, hop=256):
    """Phase-vocoder time stretch by r, then resample by r: pitch shifted, length kept."""
    n = len(x)
    r = rng.choice([0.8, 0.85, 0.9, 1.12, 1.18, 1.25])  # stretch factor
    spec = _stft(x, n_fft, hop)
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
    stretched = _istft(mag * np.exp(1j * phase), n_fft, hop, int(round(n * r)))
    num = int(round(r * 100))
    return _fit_length(resample_poly(stretched, 100, num), n)


def _atk_channel_vocoder(x, info, rng, n_bands=16):
    n_fft, hop = 512, 128
    n = len(x)
    mag = np.abs(_stft(x, n_fft, hop))
    n_bins = mag.shape[1]
    hz = np.linspace(0.0, _SR / 2, n_bins)
    mel = hz_to_mel(hz)
    band = np.minimum((mel / mel[-1] * n_bands).astype(np.int64), n_bands - 1)
    onehot = np.zeros((n_bins, n_bands))
    onehot[np.arange(n_bins), band] = 1.0
    energy = (mag ** 2) @ onehot / onehot.sum(axis=0)
    env = np.sqrt(energy @ onehot.T)  # piecewise-constant band envelope
    exc = _pulse_noise_excitation(info["f0"], info["voiced"], rng)
    exc_spec = _stft(exc, n_fft, hop)
    exc_spec /= np.sqrt(np.mean(np.abs(exc_spec) ** 2, axis=1, keepdims=True)) + 1e-9
    return _istft(exc_spec * env, n_fft, hop, n)


def _atk_freq_warp(x, info, rng, n_fft=512, hop=128):
    """Voice conversion by frequency warping of the magnitude, keeping the source phase."""
    n = len(x)
    spec = _stft(x, n_fft, hop)
    mag = np.abs(spec)
    alpha = rng.choice([0.8, 0.86, 1.15, 1.22])
    n_bins = mag.shape[1]
    src = np.clip(np.arange(n_bins) / alpha, 0, n_bins - 1)
    lo = np.minimum(src.astype(np.int64), n_bins - 2)
    frac = src - lo
    warped = mag[:, lo] * (1 - frac) + mag[:, lo + 1] * frac
    return _istft(warped * spec / (mag + 1e-12), n_fft, hop, n)


def _atk_gl_envelope(x, info, rng):
    y = _atk_mcep(x, info, rng)
    return _atk_griffin_lim(y, info, rng, n_iter=10)


def _chain(*steps: Callable) -> Callable:
    def run(x, info, rng):
        for step in steps:
            x = step(x, info, rng)
        return x
    return run


_ATTACKS: dict[str, Callable[[np.ndarray, dict, np.random.Generator], np.ndarray]] = {
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


# --------------------------------------------------------------------------- utterances


def synthesize_utterance(seed: int, split: str, index: int, speaker: int,
                         attack: str | None) -> np.ndarray:
    """Return one utterance as int16 samples at 16 kHz (the exact content of its FLAC file).

    ``attack`` is ``None`` for bona fide or an id ``A01``-``A19``.  The result depends only
    on the arguments, so any utterance can be regenerated on its own.
    """
    if split not in _SPLIT_CODE:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    if attack is not None and attack not in _ATTACKS:
        raise ValueError(f"unknown attack {attack!r}; expected None or one of "
                         f"{', '.join(sorted(_ATTACKS))}")
    root = np.random.SeedSequence([int(seed), _SPLIT_CODE[split], 1, int(index)])
    ss_base, ss_attack, ss_post = root.spawn(3)
    rng_base = np.random.default_rng(ss_base)
    rng_post = np.random.default_rng(ss_post)
    # Everything that is not an artefact (length, level, noise floor) is drawn first and
    # from a stream the attacks never touch: both classes share its distribution.
    n = int(round(rng_post.uniform(_MIN_DUR, _MAX_DUR) * _SR))
    level_db = rng_post.uniform(*_RMS_DBFS)
    floor_db = rng_post.uniform(-80.0, -68.0)
    floor = rng_post.standard_normal(n)

    x, info = _bonafide(rng_base, _speaker(seed, speaker), n)
    if attack is not None:
        x = _fit_length(_ATTACKS[attack](x, info, np.random.default_rng(ss_attack)), n)
    if not np.all(np.isfinite(x)):
        raise FloatingPointError(f"non-finite samples in {split}/{index} ({attack})")
    x = x - x.mean()
    x = x / _rms(x) * 10.0 ** (level_db / 20.0)
    x = x + floor * 10.0 ** (floor_db / 20.0)
    peak = np.max(np.abs(x))
    if peak > 0.97:
        x *= 0.97 / peak
    return np.round(x * 32767.0).astype(np.int16)


def _plan_split(seed: int, split: str, n_bona: int, n_spoof: int) -> list[tuple]:
    """(utt_id, speaker number, attack or None) per utterance, in protocol order."""
    rng = _rng(seed, _SPLIT_CODE[split], 0)
    attacks = SPLIT_ATTACKS[split]
    labels = [None] * n_bona + [attacks[i % len(attacks)] for i in range(n_spoof)]
    order = rng.permutation(len(labels))
    labels = [labels[i] for i in order]
    total = len(labels)
    numbers = rng.choice(9_000_000, size=total, replace=False) + 1_000_000
    speakers = _SPEAKERS[split]
    spk = rng.integers(len(speakers), size=total)
    # A few eval ids are not all digits, as in the real corpus (LA_E_A8093886).
    alpha = rng.random(total) < (0.02 if split == "eval" else 0.0)
    plan = []
    for i in range(total):
        utt = f"{_UTT_PREFIX[split]}{'A' if alpha[i] else ''}{numbers[i]}"
        plan.append((utt, speakers[spk[i]], labels[i]))
    return plan


def _asv_lines(seed: int, split: str, plan: list[tuple]) -> list[str]:
    """Synthetic ASV scores: targets ~N(3,1), non-targets ~N(-3,1.2), spoofs in between."""
    rng = _rng(seed, _SPLIT_CODE[split], 2)
    n_target = max(1, sum(1 for _, _, a in plan if a is None))
    lines = [f"bonafide target {float(v)!r}" for v in rng.normal(3.0, 1.0, n_target)]
    lines += [f"bonafide nontarget {float(v)!r}" for v in rng.normal(-3.0, 1.2, 3 * n_target)]
    for attack in SPLIT_ATTACKS[split]:
        count = sum(1 for _, _, a in plan if a == attack)
        mean = _rng(seed, 31, int(attack[1:])).uniform(0.3, 2.5)
        lines += [f"{attack} spoof {float(v)!r}" for v in rng.normal(mean, 1.4, count)]
    return lines


# --------------------------------------------------------------------------- files


def _write_text(path: Path, lines: list[str]) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text("".join(line + "\n" for line in lines), encoding="ascii")
    os.replace(tmp, path)


def _write_flac(path: Path, samples: np.ndarray) -> None:
    buffer = io.BytesIO()  # encoding in memory is much faster than libsndfile's file I/O
    sf.write(buffer, samples, _SR, format="FLAC", subtype="PCM_16")
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, path)


def _normalise_sizes(sizes: Mapping[str, tuple[int, int]] | None) -> dict[str, list[int]]:
    if sizes is None:
        sizes = DEFAULT_SIZES
    if not isinstance(sizes, Mapping):
        raise TypeError("sizes must be a mapping split -> (n_bonafide, n_spoof)")
    unknown = set(sizes) - set(SPLITS)
    missing = set(SPLITS) - set(sizes)
    if unknown or missing:
        raise ValueError(f"sizes must have exactly the keys {', '.join(SPLITS)} "
                         f"(missing: {sorted(missing)}, unknown: {sorted(unknown)})")
    out = {}
    for split in SPLITS:
        value = sizes[split]
        try:
            n_bona, n_spoof = (int(v) for v in value)
        except (TypeError, ValueError):
            raise ValueError(f"sizes[{split!r}] must be a pair (n_bonafide, n_spoof), "
                             f"got {value!r}") from None
        if n_bona < 1 or n_spoof < 1:
            raise ValueError(f"sizes[{split!r}] needs at least one bona fide and one spoof "
                             f"utterance, got {value!r}")
        out[split] = [n_bona, n_spoof]
    return out


def _config(seed: int, sizes: dict[str, list[int]]) -> dict:
    return {"generator": "aasist.data.mini", "version": GENERATOR_VERSION,
            "seed": int(seed), "sizes": sizes}


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def make_mini(dest: str | os.PathLike, seed: int = 0,
              sizes: Mapping[str, tuple[int, int]] | None = None,
              progress: bool = True) -> Path:
    """Generate the synthetic LA-format corpus under ``dest/LA`` and return that folder.

    ``sizes`` maps each of ``train``, ``dev``, ``eval`` to ``(n_bonafide, n_spoof)``
    (default :data:`DEFAULT_SIZES`: 1,200 / 200 / 700 utterances, 30 % bona fide).  Spoofs
    cycle through the split's attacks (A01-A06 for train and dev, A07-A19 for eval).

    Audio files already written for the same seed and sizes (by an interrupted run) are
    reused; files of a different configuration are deleted first.  Protocols, ASV scores
    and finally the completion marker are (re)written.  Raises DataError rather than touch
    a ``dest/LA`` holding a corpus that make_mini did not make (the real one).
    """
    if not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"the mini corpus seed must be a whole number >= 0, got {seed!r}")
    sizes_n = _normalise_sizes(sizes)
    config = _config(seed, sizes_n)
    root = Path(dest) / "LA"
    marker = root / MARKER_NAME
    owner_file = root / _OWNER_NAME
    split_dirs = {split: root / f"ASVspoof2019_LA_{split}" / "flac" for split in SPLITS}
    ours = [root / _PROTOCOL_DIR, root / _ASV_DIR] + [d.parent for d in split_dirs.values()]
    if not owner_file.exists() and any(p.exists() for p in ours):
        raise DataError(f"{root} holds an LA corpus that make_mini did not generate; "
                        "choose another destination (nothing there was changed)")
    root.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    if _read_json(owner_file) != config:
        for flac_dir in split_dirs.values():  # never mix files of two configurations
            if flac_dir.is_dir():
                for old in flac_dir.iterdir():
                    old.unlink()
        _write_text(owner_file, [json.dumps(config, sort_keys=True)])

    plans = {split: _plan_split(seed, split, *sizes_n[split]) for split in SPLITS}
    total = sum(len(p) for p in plans.values())
    with tqdm(total=total, desc="mini corpus", unit="utt", disable=not progress) as bar:
        for split in SPLITS:
            flac_dir = split_dirs[split]
            flac_dir.mkdir(parents=True, exist_ok=True)
            wanted = set()
            for index, (utt, speaker, attack) in enumerate(plans[split]):
                path = flac_dir / f"{utt}.flac"
                wanted.add(path.name)
                if not path.exists():  # files are renamed into place only when complete
                    _write_flac(path, synthesize_utterance(seed, split, index, speaker, attack))
                bar.update(1)
            for stale in flac_dir.iterdir():  # e.g. a .part file of an interrupted write
                if stale.name not in wanted:
                    stale.unlink()

    (root / _PROTOCOL_DIR).mkdir(exist_ok=True)
    for split in SPLITS:
        lines = [f"LA_{speaker:04d} {utt} - {attack or '-'} {'spoof' if attack else 'bonafide'}"
                 for utt, speaker, attack in plans[split]]
        _write_text(root / _PROTOCOL_DIR / _PROTOCOL_FILE[split], lines)
    (root / _ASV_DIR).mkdir(exist_ok=True)
    for split in ("dev", "eval"):
        _write_text(root / _ASV_DIR / _ASV_FILE[split], _asv_lines(seed, split, plans[split]))
    _write_text(marker, [json.dumps(config, sort_keys=True)])
    return root


def ensure_mini(dest: str | os.PathLike, seed: int = 0,
                sizes: Mapping[str, tuple[int, int]] | None = None,
                progress: bool = True) -> Path:
    """Return ``dest/LA`` at once if a complete corpus with this seed and these sizes is
    there (its marker matches); otherwise generate it with :func:`make_mini`."""
    config = _config(seed, _normalise_sizes(sizes))
    root = Path(dest) / "LA"
    if _read_json(root / MARKER_NAME) == config:
        return root
    return make_mini(dest, seed=seed, sizes=sizes, progress=progress)
