"""Signal-processing building blocks shared by the mini corpus's voice and vocoders.

Signals are float64 numpy arrays at 16 kHz. Spectrograms are scipy's: complex, shaped
(frequency bins, frames), from :func:`scipy.signal.stft` with a periodic window and
``n_fft // 2`` zeros padded at both ends, so frame ``k`` is centred on sample ``k * hop``.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import signal
from scipy.ndimage import uniform_filter1d

SAMPLE_RATE = 16000
BLOCK = 80  # samples per control frame (5 ms): formant tracks, LPC frames


def keyed_rng(*key: int) -> np.random.Generator:
    """A random stream that depends only on the integers ``key``."""
    return np.random.default_rng(np.random.SeedSequence([int(k) for k in key]))


def smooth(x: np.ndarray, width: int, axis: int = 0) -> np.ndarray:
    """Moving average over ``width`` values along ``axis`` (edge values repeated), same shape."""
    if width <= 1:
        return x
    return uniform_filter1d(x, width, axis=axis, mode="nearest")


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x * x) + 1e-20))


def fit_length(x: np.ndarray, n: int) -> np.ndarray:
    """``x`` cut or zero-padded to ``n`` samples."""
    if len(x) >= n:
        return x[:n]
    return np.concatenate([x, np.zeros(n - len(x))])


def frame_to_sample(track: np.ndarray, n: int) -> np.ndarray:
    """A per-block (5 ms) track linearly interpolated to ``n`` per-sample values."""
    centres = (np.arange(len(track)) + 0.5) * BLOCK
    return np.interp(np.arange(n), centres, track)


# --------------------------------------------------------------------------- spectra


@lru_cache(maxsize=None)
def window(kind: str, n_fft: int) -> np.ndarray:
    """Periodic Hann window (``"hann"``), or its square root (``"sqrthann"``) for a pair of
    analysis and synthesis windows whose product is Hann."""
    w = signal.get_window("hann", n_fft)
    w = np.sqrt(w) if kind == "sqrthann" else w
    w.setflags(write=False)  # shared by every caller
    return w


def stft(x: np.ndarray, n_fft: int, hop: int, kind: str = "hann") -> np.ndarray:
    """(n_fft // 2 + 1, frames) spectrogram of ``x``, in scipy's scaling (divided by the
    window's sum: a sinusoid of amplitude A peaks at A / 2 with a Hann window)."""
    return signal.stft(x, window=window(kind, n_fft), nperseg=n_fft, noverlap=n_fft - hop)[2]


def istft(spec: np.ndarray, n_fft: int, hop: int, n: int, kind: str = "hann") -> np.ndarray:
    """Least-squares overlap-add inverse of :func:`stft`, ``n`` samples long."""
    y = signal.istft(spec, window=window(kind, n_fft), nperseg=n_fft, noverlap=n_fft - hop)[1]
    return fit_length(y, n)


def griffin_lim(mag: np.ndarray, n_fft: int, hop: int, n: int, n_iter: int,
                rng: np.random.Generator, momentum: float = 0.99) -> np.ndarray:
    """A signal of ``n`` samples whose STFT magnitude approximates ``mag`` (bins, frames).

    Fast Griffin-Lim (Perraudin et al. 2013) from a random initial phase.
    """
    angles = np.exp(2j * np.pi * rng.random(mag.shape))
    prev = np.zeros_like(angles)
    alpha = momentum / (1.0 + momentum)
    for _ in range(n_iter):
        rebuilt = stft(istft(mag * angles, n_fft, hop, n), n_fft, hop)
        angles = rebuilt - alpha * prev
        angles /= np.abs(angles) + 1e-16
        prev = rebuilt
    return istft(mag * angles, n_fft, hop, n)


# --------------------------------------------------------------------------- filters


def lpc(frames: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Autocorrelation-method LPC of each row of ``frames`` (F, width).

    Returns the prediction polynomials (F, order + 1), ``a[:, 0] == 1``, and the prediction
    error powers (F,). A 40 Hz Gaussian lag window and a -60 dB noise floor keep the normal
    equations well conditioned in silence. They are solved for all frames in one batched
    ``numpy.linalg.solve`` (``scipy.linalg.solve_toeplitz`` takes one frame per call).
    """
    n_fft = 1 << int(np.ceil(np.log2(2 * frames.shape[1])))
    power = np.abs(np.fft.rfft(frames, n=n_fft, axis=1)) ** 2
    r = np.fft.irfft(power, n=n_fft, axis=1)[:, : order + 1]
    r = r * np.exp(-0.5 * (2 * np.pi * 40.0 * np.arange(order + 1) / SAMPLE_RATE) ** 2)
    r[:, 0] = r[:, 0] * (1.0 + 1e-6) + 1e-12
    lags = np.abs(np.subtract.outer(np.arange(order), np.arange(order)))
    coeffs = np.linalg.solve(r[:, lags], -r[:, 1:, None])[..., 0]
    err = r[:, 0] + np.sum(coeffs * r[:, 1:], axis=1)
    return np.concatenate([np.ones((len(frames), 1)), coeffs], axis=1), np.maximum(err, 1e-12)


@lru_cache(maxsize=None)
def _state_map(order: int) -> tuple[np.ndarray, np.ndarray]:
    """Index and mask that turn past outputs into lfilter's state (see :func:`tv_allpole`)."""
    i, j = np.meshgrid(np.arange(order), np.arange(1, order + 1), indexing="ij")
    return np.clip(j - i - 1, 0, order - 1), (j > i).astype(np.float64)


def tv_allpole(x: np.ndarray, polys: np.ndarray, gains: np.ndarray | None = None) -> np.ndarray:
    """Time-varying all-pole filter: row k of ``polys`` (blocks, order + 1) filters samples
    ``k * BLOCK`` to ``k * BLOCK + BLOCK - 1``, scaled by ``gains[k]``.

    The result is the direct-form recursion ``y[n] = g(n) x[n] - sum_j a_j(n) y[n-j]``
    exactly, as in a formant synthesiser: at each change of coefficients lfilter's state is
    rebuilt from the past outputs (what ``scipy.signal.lfiltic`` does, here vectorised).
    """
    n = len(x)
    y = np.zeros(n)
    order = polys.shape[1] - 1
    index, mask = _state_map(order)
    if gains is None:
        gains = np.ones(len(polys))
    n_blocks = -(-n // BLOCK)
    rows = np.minimum(np.arange(n_blocks), len(polys) - 1)
    coeffs = np.concatenate([polys[rows], gains[np.minimum(rows, len(gains) - 1), None]], axis=1)
    # consecutive blocks with identical coefficients are filtered in one call
    starts = np.flatnonzero(np.concatenate([[True], np.any(coeffs[1:] != coeffs[:-1], axis=1)]))
    ends = np.append(starts[1:], n_blocks)
    past = np.zeros(order)  # y[start-1], y[start-2], ...
    for k0, k1 in zip(starts, ends):
        a = coeffs[k0, :-1]
        start, stop = k0 * BLOCK, min(k1 * BLOCK, n)
        zi = -(past[index] * mask) @ a[1:]
        y[start:stop], _ = signal.lfilter(coeffs[k0, -1:], a, x[start:stop], zi=zi)
        tail = y[max(0, stop - order):stop][::-1]
        past[: len(tail)] = tail
    return y


def mu_law(v: np.ndarray, bits: int, mu: float = 255.0) -> np.ndarray:
    """``v`` (within [-1, 1]) coded with ``bits`` bits on the mu-law curve and decoded back."""
    coded = np.sign(v) * np.log1p(mu * np.abs(v)) / np.log1p(mu)
    levels = 2 ** (bits - 1)
    coded = np.round(coded * levels) / levels
    return np.sign(coded) * np.expm1(np.abs(coded) * np.log1p(mu)) / mu
