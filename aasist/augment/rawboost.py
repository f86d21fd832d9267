"""RawBoost (Tak et al., ICASSP 2022), batched in torch so it runs on the model's device.

RawBoost distorts the raw waveform with three kinds of nuisance a recording channel adds:

1. **Linear and non-linear convolutive noise** (LnL): ``y = sum_{j=1..N_f} g_j(x**j)``,
   each ``g_j`` a cascade of ``nBands`` random band-stop (notch) FIR filters. The linear
   term (j = 1) has peak gain ``U(minG, maxG)`` dB, the higher powers
   ``U(minG - minBiasLinNonLin, maxG - maxBiasLinNonLin)`` dB, i.e. 5-20 dB below it
   with the defaults: a mildly non-linear, coloured channel. The result has its mean
   removed and is scaled down only if it would clip.
2. **Impulsive signal-dependent noise** (ISD): a random ``beta ~ U(0, P)`` per cent of
   the samples are changed to ``x[i] (1 + g_sd (2u-1)(2v-1))`` (u, v uniform): clicks and
   crackle whose size follows the signal.
3. **Stationary signal-independent noise** (SSI): white Gaussian noise through a random
   notch cascade, added at ``SNR ~ U(SNRmin, SNRmax)`` dB.

``algo`` picks one of them or a combination, numbered as in the authors' code:
4 = 1+2+3, 5 = 1+2, 6 = 1+3, 7 = 2+3 (in series), 8 = 1 and 2 in parallel
(``LnL(x) + ISD(x)``, scaled down only if it would clip).

Filters. Each notch is scipy's ``firwin(c, [f1, f2], window="hamming")`` band-stop
design, written out: ``h[m] = (delta[m] - w2 sinc(w2 m) + w1 sinc(w1 m)) * hamming[m]``
for ``|m| <= (c-1)/2``, with ``fc ~ U(minF, maxF)``, bandwidth ``~ U(minBW, maxBW)``,
``f1, f2 = fc -/+ bw/2`` (kept inside (0, fs/2)), ``w = f / (fs/2)`` and an odd length
``c`` from ``int(U(minCoeff, maxCoeff))`` (+1 when even). A cascade is scaled so that
its peak magnitude response, on the 512-point grid of ``scipy.signal.freqz``, is the
drawn gain. Filtering is zero-phase ("same" convolution): the authors' ``filterFIR``
output is the same up to a one-sample shift.

Differences from the authors' per-utterance numpy code, on purpose: everything runs on
a batch at once on any device; ISD picks each sample independently with probability
``beta`` (so the count is ``Binomial(L, beta)``, not exactly ``int(L beta)``; the
relative spread is below 1 % for a 4 s clip); the distortion is applied to the training
window rather than to the whole file before cropping. ``tests/test_augment_rawboost.py``
compares the distributions with statistics recorded from the authors' implementation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch

from .dsp import add_at_snr, peak_normalise, uniform, zero_phase_filter

FREQZ_POINTS = 512  # scipy.signal.freqz default grid, used for the peak-gain normalisation


@dataclass(frozen=True)
class RawBoostParams:
    """The authors' parameters and defaults (``main.py`` of RawBoost-antispoofing)."""
    algo: int = 5
    nBands: int = 5
    minF: float = 20.0
    maxF: float = 8000.0
    minBW: float = 100.0
    maxBW: float = 1000.0
    minCoeff: int = 10
    maxCoeff: int = 100
    minG: float = 0.0
    maxG: float = 0.0
    minBiasLinNonLin: float = 5.0
    maxBiasLinNonLin: float = 20.0
    N_f: int = 5
    P: float = 10.0
    g_sd: float = 2.0
    SNRmin: float = 10.0
    SNRmax: float = 40.0


PARAM_NAMES = tuple(f.name for f in fields(RawBoostParams))


def notch_filters(shape: tuple[int, ...], gain_db: torch.Tensor, p: RawBoostParams, fs: int,
                  gen: torch.Generator) -> torch.Tensor:
    """Random notch cascades, zero-phase taps of shape ``shape + (2M+1,)``.

    ``gain_db`` (shape ``shape``) is each cascade's peak magnitude response in dB.
    """
    bands = (*shape, p.nBands)
    fc = uniform(p.minF, p.maxF, bands, gen)
    bw = uniform(p.minBW, p.maxBW, bands, gen)
    taps = torch.floor(uniform(p.minCoeff, p.maxCoeff, bands, gen))
    taps = taps + (taps.remainder(2) == 0)                      # odd length, as firwin needs
    return design_notch_cascade(fc, bw, taps, gain_db, fs, max_taps=p.maxCoeff)


def design_notch_cascade(fc: torch.Tensor, bw: torch.Tensor, taps: torch.Tensor,
                         gain_db: torch.Tensor, fs: int, max_taps: int) -> torch.Tensor:
    """Cascades of Hamming-windowed band-stop FIR filters, as zero-phase taps.

    ``fc``, ``bw`` (Hz) and ``taps`` (odd lengths <= ``max_taps``) have shape
    ``(..., n_bands)``; ``gain_db`` has shape ``(...)``. Returns ``(..., 2 n_bands M + 1)``
    taps (``M = max_taps // 2``), centred at lag 0, whose magnitude response peaks at
    ``gain_db`` on freqz's 512-point grid.
    """
    n_bands = fc.shape[-1]
    half = max(int(max_taps) // 2, 1)
    m = torch.arange(-half, half + 1, device=fc.device, dtype=torch.float32)
    nyq = fs / 2
    w1 = (fc - bw / 2).clamp_min(1e-3).unsqueeze(-1) / nyq
    w2 = (fc + bw / 2).clamp_max(nyq - 1e-3).unsqueeze(-1) / nyq
    ideal = (m == 0).float() - w2 * torch.sinc(w2 * m) + w1 * torch.sinc(w1 * m)
    span = (taps.unsqueeze(-1) - 1) / 2                         # (c - 1) / 2
    window = 0.54 + 0.46 * torch.cos(math.pi * m / span.clamp_min(1))
    h = ideal * window * (m.abs() <= span)
    # firwin scales each filter to unit gain at DC; only its sign survives the peak
    # normalisation below, and it matters where a notch covers DC.
    h = h * torch.where(h.sum(-1, keepdim=True) < 0, -1.0, 1.0)
    # Cascade = product of the zero-phase responses on a grid that holds the whole
    # cascade without wrap-around (and at least freqz's 512 points).
    n_grid = max(2 * FREQZ_POINTS, 1 << math.ceil(math.log2(2 * n_bands * half + 1)))
    response = torch.ones(*fc.shape[:-1], n_grid // 2 + 1, device=fc.device)
    for k in range(n_bands):
        response = response * _zero_phase_response(h[..., k, :], n_grid)
    stride = n_grid // (2 * FREQZ_POINTS)
    peak = response[..., :FREQZ_POINTS * stride:stride].abs().amax(-1, keepdim=True)
    response = response * torch.pow(10.0, gain_db.unsqueeze(-1) / 20) / peak.clamp_min(1e-12)
    cascade = torch.fft.irfft(response, n_grid)                  # lags 0.., then negative lags
    full = n_bands * half
    return torch.cat([cascade[..., n_grid - full:], cascade[..., :full + 1]], dim=-1)


def _zero_phase_response(h: torch.Tensor, n_grid: int) -> torch.Tensor:
    """Real frequency response of centred symmetric taps ``h`` (..., 2M+1) on an rfft grid."""
    half = h.shape[-1] // 2
    wrapped = torch.zeros(*h.shape[:-1], n_grid, device=h.device)
    wrapped[..., :half + 1] = h[..., half:]
    wrapped[..., n_grid - half:] = h[..., :half]
    return torch.fft.rfft(wrapped).real


def lnl_convolutive_noise(x: torch.Tensor, p: RawBoostParams, fs: int,
                          gen: torch.Generator) -> torch.Tensor:
    """Algorithm 1: ``sum_j notch_j(x**j)``, mean removed, scaled down only if it clips."""
    n = x.shape[0]
    linear = uniform(p.minG, p.maxG, (n, 1), gen)
    higher = uniform(p.minG - p.minBiasLinNonLin, p.maxG - p.maxBiasLinNonLin,
                     (n, p.N_f - 1), gen)
    taps = notch_filters((n, p.N_f), torch.cat([linear, higher], dim=1), p, fs, gen)
    powers = torch.stack([x ** (j + 1) for j in range(p.N_f)], dim=1)   # (n, N_f, L)
    y = zero_phase_filter(powers, taps).sum(dim=1)
    return peak_normalise(y - y.mean(dim=-1, keepdim=True))


def isd_additive_noise(x: torch.Tensor, p: RawBoostParams, gen: torch.Generator) -> torch.Tensor:
    """Algorithm 2: impulsive, signal-dependent changes to ``U(0, P)`` % of the samples."""
    n = x.shape[0]
    beta = uniform(0.0, p.P, (n, 1), gen) / 100
    hit = torch.rand(x.shape, generator=gen, device=gen.device) < beta
    f_r = uniform(-1.0, 1.0, x.shape, gen) * uniform(-1.0, 1.0, x.shape, gen)
    return peak_normalise(x + hit * (p.g_sd * x * f_r))


def ssi_additive_noise(x: torch.Tensor, p: RawBoostParams, fs: int,
                       gen: torch.Generator) -> torch.Tensor:
    """Algorithm 3: notch-filtered white noise added at ``U(SNRmin, SNRmax)`` dB."""
    n = x.shape[0]
    noise = torch.randn(x.shape, generator=gen, device=gen.device)
    taps = notch_filters((n,), uniform(p.minG, p.maxG, (n,), gen), p, fs, gen)
    noise = zero_phase_filter(noise, taps)
    return add_at_snr(x, noise, uniform(p.SNRmin, p.SNRmax, (n,), gen))


def apply_rawboost(x: torch.Tensor, p: RawBoostParams, fs: int, gen: torch.Generator) -> torch.Tensor:
    """Apply RawBoost algorithm ``p.algo`` (1-8) to a batch ``x`` (n, L); returns (n, L)."""
    lnl = lambda v: lnl_convolutive_noise(v, p, fs, gen)  # noqa: E731
    isd = lambda v: isd_additive_noise(v, p, gen)  # noqa: E731
    ssi = lambda v: ssi_additive_noise(v, p, fs, gen)  # noqa: E731
    chains = {1: (lnl,), 2: (isd,), 3: (ssi,), 4: (lnl, isd, ssi), 5: (lnl, isd),
              6: (lnl, ssi), 7: (isd, ssi)}
    if p.algo == 8:
        return peak_normalise(lnl(x) + isd(x))
    for step in chains[p.algo]:
        x = step(x)
    return x


__all__ = ["PARAM_NAMES", "RawBoostParams", "apply_rawboost", "design_notch_cascade",
           "isd_additive_noise", "lnl_convolutive_noise", "notch_filters", "ssi_additive_noise"]
