"""RawBoost in torch against the authors' implementation and against its own definition.

What was compared with the authors' code (TakHemlata/RawBoost-antispoofing, RawBoost.py,
run unmodified under numpy 1.26 / scipy 1.13 by scripts/make_rawboost_reference.py; its
statistics are stored in tests/data/rawboost_reference.npz, the code is not): 400 draws
of each algorithm with the default parameters on one fixed 0.25 s clip, summarised as
where the notch filters fall (mean response and fraction attenuated > 10 dB in 32 bands),
the SNR of the added coloured noise (quantiles) and its mean spectrum, the gain of the
convolutive noise (quantiles of output/input RMS), and for the impulsive noise the
fraction of samples changed and the size of the changes (quantiles). The tolerances are
about twice the spread between seeds of our own implementation at 400 draws.
The filter design itself is compared exactly with scipy's firwin/freqz.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import signal

from aasist.augment import rawboost as rb
from conftest import DATA
from scripts.make_rawboost_reference import DEFAULTS, FS, ours_outputs

REFERENCE = DATA / "rawboost_reference.npz"
# statistic -> largest allowed absolute difference from the authors' implementation
TOLERANCE = {"notch_db": 3.0, "notch_hit": 0.12, "ssi_snr": 3.0, "ssi_psd": 1.0,
             "lnl_gain": 3.0, "isd_frac": 0.01, "isd_ratio": 0.05}


def _batch(n=6, length=4000, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return 0.2 * torch.randn(n, length, generator=gen)


@pytest.fixture(scope="module")
def reference():
    return dict(np.load(REFERENCE))


@pytest.fixture(scope="module")
def ours(reference):
    return ours_outputs(reference["input"], seed=0)


@pytest.mark.parametrize("name", sorted(TOLERANCE))
def test_statistics_match_the_authors_implementation(name, reference, ours):
    diff = np.abs(ours[name] - reference[name]).max()
    assert diff <= TOLERANCE[name], f"{name}: ours {ours[name]} vs authors {reference[name]}"


def test_overall_notch_depth_and_snr_centre_match(reference, ours):
    # averages over all bands/draws are much less noisy than single bands
    assert abs(ours["notch_db"].mean() - reference["notch_db"].mean()) < 0.5
    assert abs(ours["ssi_snr"][2] - 25) < 2 and abs(reference["ssi_snr"][2] - 25) < 2


def test_notch_cascade_equals_scipy_firwin_design():
    rng = np.random.default_rng(3)
    fc = np.array([30.0, 900, 2500, 6000, 7990])      # one notch over DC, one at Nyquist
    bw = rng.uniform(100, 1000, 5)
    taps = np.array([11, 35, 57, 99, 73])
    gain = -7.5
    b = np.array([1.0])
    for f, w, c in zip(fc, bw, taps):
        edges = [max(f - w / 2, 1e-3), min(f + w / 2, FS / 2 - 1e-3)]
        b = np.convolve(signal.firwin(int(c), edges, window="hamming", fs=FS), b)
    b = 10 ** (gain / 20) * b / np.abs(signal.freqz(b, 1, fs=FS)[1]).max()
    ours = rb.design_notch_cascade(*(torch.tensor(v, dtype=torch.float32) for v in (fc, bw, taps)),
                                   torch.tensor(gain), FS, max_taps=100).numpy()
    centre, half = len(ours) // 2, (len(b) - 1) // 2
    np.testing.assert_allclose(ours[centre - half:centre + half + 1], b, atol=1e-6)
    assert np.abs(np.delete(ours, np.arange(centre - half, centre + half + 1))).max() < 1e-6


@pytest.mark.parametrize("algo", range(1, 9))
def test_every_algorithm_keeps_shape_dtype_and_is_deterministic(algo):
    x = _batch()
    p = rb.RawBoostParams(algo=algo)
    y1 = rb.apply_rawboost(x, p, FS, torch.Generator().manual_seed(5))
    y2 = rb.apply_rawboost(x, p, FS, torch.Generator().manual_seed(5))
    y3 = rb.apply_rawboost(x, p, FS, torch.Generator().manual_seed(6))
    assert y1.shape == x.shape and y1.dtype == torch.float32 and torch.isfinite(y1).all()
    assert torch.equal(y1, y2) and not torch.equal(y1, y3) and not torch.equal(y1, x)


@pytest.mark.parametrize("algo, chain", [(4, "lnl isd ssi"), (5, "lnl isd"), (6, "lnl ssi"),
                                          (7, "isd ssi")])
def test_combinations_are_the_algorithms_in_series(algo, chain):
    x, p = _batch(), rb.RawBoostParams(algo=algo)
    steps = {"lnl": lambda v, g: rb.lnl_convolutive_noise(v, p, FS, g),
             "isd": lambda v, g: rb.isd_additive_noise(v, p, g),
             "ssi": lambda v, g: rb.ssi_additive_noise(v, p, FS, g)}
    gen = torch.Generator().manual_seed(1)
    expected = x
    for name in chain.split():
        expected = steps[name](expected, gen)
    assert torch.equal(rb.apply_rawboost(x, p, FS, torch.Generator().manual_seed(1)), expected)


def test_algorithm_8_adds_1_and_2_in_parallel():
    x, p = _batch(), rb.RawBoostParams(algo=8)
    gen = torch.Generator().manual_seed(2)
    summed = rb.lnl_convolutive_noise(x, p, FS, gen) + rb.isd_additive_noise(x, p, gen)
    peak = summed.abs().amax(-1, keepdim=True)
    expected = torch.where(peak > 1, summed / peak, summed)
    assert torch.allclose(rb.apply_rawboost(x, p, FS, torch.Generator().manual_seed(2)), expected)


def test_ssi_snr_stays_inside_the_configured_range():
    x = _batch(n=64)
    p = rb.RawBoostParams(algo=3, SNRmin=12, SNRmax=15)
    y = rb.ssi_additive_noise(x, p, FS, torch.Generator().manual_seed(0))
    snr = 20 * torch.log10(x.norm(dim=-1) / (y - x).norm(dim=-1))
    assert snr.min() >= 12 - 1e-3 and snr.max() <= 15 + 1e-3 and snr.max() - snr.min() > 1


def test_isd_changes_at_most_P_percent_by_at_most_g_sd():
    x = _batch(n=64, length=16000) * 0.5            # peaks well below 1/3: no rescaling
    p = rb.RawBoostParams(P=4, g_sd=0.5)
    y = rb.isd_additive_noise(x, p, torch.Generator().manual_seed(0))
    changed = (y != x).float().mean(-1)
    assert changed.max() <= 0.04 + 0.005 and changed.min() >= 0
    assert ((y - x).abs() <= 0.5 * x.abs() + 1e-7).all()


def test_lnl_linear_term_has_the_drawn_peak_gain():
    """With N_f = 1 and a fixed gain, LnL is a notch cascade whose peak response is minG."""
    p = rb.RawBoostParams(N_f=1, minG=-6.0, maxG=-6.0)
    taps = rb.notch_filters((32,), torch.full((32,), -6.0), p, FS, torch.Generator().manual_seed(0))
    peak = np.abs(np.fft.rfft(taps.numpy(), n=1024, axis=-1))[:, :512].max(-1)
    np.testing.assert_allclose(20 * np.log10(peak), -6.0, atol=1e-3)


def test_defaults_are_the_authors():
    p = rb.RawBoostParams()
    assert {k: getattr(p, k) for k in DEFAULTS} == DEFAULTS and p.algo == 5


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_runs_on_the_gpu_with_matching_statistics():
    x = _batch(n=256).cuda()
    p = rb.RawBoostParams(algo=3)
    y = rb.apply_rawboost(x, p, FS, torch.Generator(device="cuda").manual_seed(0))
    assert y.device.type == "cuda" and y.shape == x.shape
    snr = 20 * torch.log10(x.norm(dim=-1) / (y - x).norm(dim=-1))
    assert 10 - 1e-3 <= snr.min() and snr.max() <= 40 + 1e-3 and abs(snr.median().item() - 25) < 3
