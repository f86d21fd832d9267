"""The mini corpus's signal-processing blocks (aasist.data.mini.dsp) and the mel scale."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter

from aasist.data.mini import dsp
from aasist.melscale import hz_to_mel, mel_filterbank, mel_to_hz


@pytest.mark.parametrize("n_fft, hop, kind", [(512, 128, "hann"), (1024, 256, "hann"),
                                              (512, 256, "sqrthann")])
def test_stft_round_trip_and_frame_centres(n_fft, hop, kind):
    x = np.random.default_rng(0).standard_normal(5000)
    spec = dsp.stft(x, n_fft, hop, kind)
    assert spec.shape == (n_fft // 2 + 1, -(-len(x) // hop) + 1)
    assert np.allclose(dsp.istft(spec, n_fft, hop, len(x), kind), x, atol=1e-10)
    # frame k is centred on sample k * hop: an impulse there has a flat spectrum in frame k
    impulse = np.zeros(5000)
    impulse[10 * hop] = 1.0
    frame = np.abs(dsp.stft(impulse, n_fft, hop, kind)[:, 10])
    assert np.allclose(frame, frame[0]) and frame[0] > 0


def test_griffin_lim_makes_the_magnitude_consistent():
    """More iterations bring the STFT magnitude of the result closer to the target."""
    x = np.sin(2 * np.pi * 440 * np.arange(8000) / 16000) * np.hanning(8000)
    target = np.abs(dsp.stft(x, 512, 128))

    def error(n_iter):
        y = dsp.griffin_lim(target, 512, 128, len(x), n_iter, np.random.default_rng(0))
        return np.linalg.norm(np.abs(dsp.stft(y, 512, 128)) - target) / np.linalg.norm(target)

    assert error(16) < 0.5 * error(0)


def test_lpc_recovers_an_autoregressive_process():
    a_true = np.array([1.0, -1.3, 0.8])  # poles at radius ~0.89
    x = lfilter([1.0], a_true, np.random.default_rng(1).standard_normal((4, 4000)), axis=1)
    a, err = dsp.lpc(x * np.hamming(4000), order=2)
    assert np.allclose(a, a_true, atol=0.05)
    assert np.all(err > 0)


def test_tv_allpole_is_the_direct_recursion():
    """Coefficients change every block, and the output is y[n] = g x[n] - sum a_j y[n-j]
    with the block's coefficients, as if computed sample by sample."""
    rng = np.random.default_rng(2)
    n_blocks, order = 6, 4
    radius = rng.uniform(0.7, 0.95, (n_blocks, 2))
    angle = rng.uniform(0.2, 2.5, (n_blocks, 2))
    polys = np.array([np.real(np.poly(np.concatenate([r * np.exp(1j * t), r * np.exp(-1j * t)])))
                      for r, t in zip(radius, angle)])
    polys[2] = polys[1]  # runs of equal blocks are filtered in one call
    gains = rng.uniform(0.5, 2.0, n_blocks)
    x = rng.standard_normal(n_blocks * dsp.BLOCK - 30)
    expected = np.zeros(len(x))
    for i in range(len(x)):
        k = i // dsp.BLOCK
        past = [expected[i - j] if i >= j else 0.0 for j in range(1, order + 1)]
        expected[i] = gains[k] * x[i] - np.dot(polys[k, 1:], past)
    assert np.allclose(dsp.tv_allpole(x, polys, gains), expected, atol=1e-10)


def test_mu_law_codes_on_few_levels():
    v = np.linspace(-1.0, 1.0, 10001)
    coded = dsp.mu_law(v, bits=4)
    assert len(np.unique(coded)) == 2 ** 4 + 1  # 8 levels a side and zero
    assert np.all(np.diff(coded) >= 0) and coded[0] == pytest.approx(-1.0)
    assert np.max(np.abs(dsp.mu_law(v, bits=12) - v)) < 0.01
    assert np.array_equal(dsp.mu_law(coded, bits=4), coded)  # levels code to themselves


def test_smooth_is_a_centred_moving_average():
    x = np.zeros(50)
    x[20] = 5.0
    y = dsp.smooth(x, 5)
    assert np.array_equal(np.flatnonzero(y), np.arange(18, 23))
    assert y.sum() == pytest.approx(5.0)
    constant = np.full((30, 2), 3.7)
    assert np.allclose(dsp.smooth(constant, 7), constant)


def test_mel_scale():
    assert hz_to_mel(1000.0) == pytest.approx(1000.0, abs=0.1)  # the scale's anchor
    hz = np.array([0.0, 300.0, 4000.0, 8000.0])
    assert np.allclose(mel_to_hz(hz_to_mel(hz)), hz)
    fb = mel_filterbank(20, 512, 16000)
    assert fb.shape == (20, 257)
    assert np.allclose(fb.max(axis=1), 1.0, atol=0.1)  # each peak falls near a bin
    peaks = fb.argmax(axis=1)
    assert np.all(np.diff(peaks) > 0) and np.all(np.diff(np.diff(peaks)) >= -1)  # widening
    between = fb[:, peaks[0] + 1:peaks[-1]].sum(axis=0)  # strictly between the end peaks
    assert np.allclose(between, 1.0)
