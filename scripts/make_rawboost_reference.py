"""Record statistics of the authors' RawBoost implementation (test fixture).

Usage (needs a checkout of https://github.com/TakHemlata/RawBoost-antispoofing):
    python -m scripts.make_rawboost_reference --rawboost-dir PATH/TO/RawBoost-antispoofing \
        [--out tests/data/rawboost_reference.npz]

The authors' code needs numpy < 2 (it calls ``int()`` on a one-element array), so run
this script in an environment with numpy 1.x and scipy; torch is needed only for the
side-by-side printout of our statistics, which is skipped without it.

The authors' ``RawBoost.py`` is imported from the checkout (it is not part of this
repository) and run with its default parameters, ``DRAWS`` times on a fixed 0.25 s clip
(stored in the fixture as ``input``). The same statistics, computed by the same
functions below from `aasist.augment.rawboost`, are compared in
tests/test_augment_rawboost.py:

* ``notch_db``:   mean magnitude response (dB, floored at -60) of a notch cascade
                  (``genNotchCoeffs``) in 32 frequency bands: where the notches fall;
* ``notch_hit``:  fraction of cascades attenuating each band by more than 10 dB;
* ``ssi_snr``:    quantiles of the SNR of algorithm 3 (added coloured noise);
* ``ssi_psd``:    mean spectrum of that added noise (dB, 32 bands, unit total power);
* ``lnl_gain``:   quantiles of the output/input RMS ratio of algorithm 1 (dB);
* ``isd_frac``:   quantiles of the fraction of samples algorithm 2 changes;
* ``isd_ratio``:  quantiles of the relative change ``(y - x) / x`` of changed samples.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FS = 16000
DRAWS = 400
BANDS = 32
QUANTILES = np.array([0.05, 0.25, 0.5, 0.75, 0.95])
DEFAULTS = dict(nBands=5, minF=20, maxF=8000, minBW=100, maxBW=1000, minCoeff=10, maxCoeff=100,
                minG=0, maxG=0, minBiasLinNonLin=5, maxBiasLinNonLin=20, N_f=5, P=10, g_sd=2,
                SNRmin=10, SNRmax=40)


def test_clip(length: int = 4000, seed: int = 0) -> np.ndarray:
    """A speech-like 0.25 s clip (harmonics with a moving formant), peak 0.25: no clipping
    in algorithm 2, so the changed samples can be counted."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / FS
    f0 = 120 + 20 * np.sin(2 * np.pi * 3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / FS
    x = sum(np.sin(k * phase) / k * np.exp(-((k * 120 - 700 - 300 * t) / 400) ** 2) for k in range(1, 40))
    x = x + 0.01 * rng.standard_normal(length)
    return (0.25 * x / np.abs(x).max()).astype(np.float32)


def band_means(values: np.ndarray) -> np.ndarray:
    """Average the last axis (a frequency grid) into BANDS equal bands."""
    return values[..., : values.shape[-1] // BANDS * BANDS].reshape(*values.shape[:-1], BANDS, -1).mean(-1)


def notch_stats(responses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean dB per band, fraction attenuating each band by > 10 dB) of |H| (draws, 512)."""
    db = 20 * np.log10(np.maximum(np.abs(responses), 1e-3))
    return band_means(db).mean(0), (band_means(db) < -10).mean(0)


def added_noise_psd(noise: np.ndarray) -> np.ndarray:
    """Mean power spectrum (dB per band) of rows of ``noise``, each scaled to unit power."""
    spec = np.abs(np.fft.rfft(noise, axis=-1)) ** 2
    spec = spec / spec.sum(-1, keepdims=True)
    return 10 * np.log10(band_means(spec[:, :-1]).mean(0))


def summarise(x: np.ndarray, ssi: np.ndarray, lnl: np.ndarray, isd: np.ndarray,
              responses: np.ndarray) -> dict[str, np.ndarray]:
    """Every statistic from outputs (draws, L) of algorithms 3, 1, 2 on ``x`` and notch
    responses (draws, 512)."""
    snr = 20 * np.log10(np.linalg.norm(x) / np.linalg.norm(ssi - x, axis=-1))
    rms = lambda v: np.sqrt(np.mean(v ** 2, axis=-1))  # noqa: E731
    changed = isd != x
    ratio = ((isd - x) / np.where(x == 0, 1, x))[changed]
    notch_db, notch_hit = notch_stats(responses)
    return {"notch_db": notch_db, "notch_hit": notch_hit,
            "ssi_snr": np.quantile(snr, QUANTILES), "ssi_psd": added_noise_psd(ssi - x),
            "lnl_gain": np.quantile(20 * np.log10(rms(lnl) / rms(x)), QUANTILES),
            "isd_frac": np.quantile(changed.mean(-1), QUANTILES),
            "isd_ratio": np.quantile(ratio, QUANTILES)}


def authors_outputs(module, x: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """Run the authors' functions DRAWS times each, seeded, with their defaults."""
    from scipy import signal

    np.random.seed(seed)
    a = SimpleNamespace(**DEFAULTS)
    notch = [module.genNotchCoeffs(a.nBands, a.minF, a.maxF, a.minBW, a.maxBW, a.minCoeff,
                                   a.maxCoeff, a.minG, a.maxG, FS) for _ in range(DRAWS)]
    responses = np.stack([signal.freqz(b, 1, fs=FS)[1] for b in notch])
    x64 = x.astype(np.float64)
    ssi = np.stack([module.SSI_additive_noise(x64, a.SNRmin, a.SNRmax, a.nBands, a.minF, a.maxF,
                                              a.minBW, a.maxBW, a.minCoeff, a.maxCoeff, a.minG,
                                              a.maxG, FS) for _ in range(DRAWS)])
    lnl = np.stack([module.LnL_convolutive_noise(x64, a.N_f, a.nBands, a.minF, a.maxF, a.minBW,
                                                 a.maxBW, a.minCoeff, a.maxCoeff, a.minG, a.maxG,
                                                 a.minBiasLinNonLin, a.maxBiasLinNonLin, FS)
                    for _ in range(DRAWS)])
    isd = np.stack([module.ISD_additive_noise(x64.copy(), a.P, a.g_sd) for _ in range(DRAWS)])
    return summarise(x64, ssi, lnl, isd, responses)


def ours_outputs(x: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """The same statistics from `aasist.augment.rawboost`, all draws as one batch."""
    import torch

    from aasist.augment import rawboost as rb

    p = rb.RawBoostParams(**DEFAULTS)
    gen = torch.Generator().manual_seed(seed)
    batch = torch.from_numpy(np.repeat(x[None], DRAWS, axis=0))
    taps = rb.notch_filters((DRAWS,), torch.zeros(DRAWS), p, FS, gen).double().numpy()
    responses = np.fft.rfft(taps, n=1024, axis=-1)[:, :512]   # freqz's grid; |H| ignores the delay
    ssi = rb.ssi_additive_noise(batch, p, FS, gen).double().numpy()
    lnl = rb.lnl_convolutive_noise(batch, p, FS, gen).double().numpy()
    isd = rb.isd_additive_noise(batch, p, gen).double().numpy()
    return summarise(x.astype(np.float64), ssi, lnl, isd, responses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rawboost-dir", required=True, type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "rawboost_reference.npz")
    args = parser.parse_args()
    sys.path.insert(0, str(args.rawboost_dir))
    import RawBoost  # from the checkout: not a dependency

    x = test_clip()
    stats = authors_outputs(RawBoost, x)
    try:
        ours = ours_outputs(x)
    except ImportError:   # an environment with the authors' numpy 1.x but no torch
        ours = {}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, input=x, draws=DRAWS, quantiles=QUANTILES, **stats)
    for name, value in stats.items():
        for who, v in (("authors", value), ("ours", ours.get(name))):
            if v is None:
                continue
            print(f"{name:10s} {who:8s} {np.array2string(np.asarray(v), precision=3, max_line_width=250)}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
