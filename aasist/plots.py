"""Figures for evaluation and training: DET curve, score histograms, per-attack EER, curves.

Every function takes arrays (or dicts of them) and an output path, writes one image (the
format follows the suffix, e.g. ``.png``), creates missing parent folders and returns the
path as a :class:`pathlib.Path`. Figures are drawn on the Agg canvas directly
(``matplotlib.figure.Figure``), never through ``pyplot``: this leaves the caller's backend
and open figures alone (notebooks keep ``inline``), works without a display, and no figure
stays registered once the function returns.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from statistics import NormalDist
from typing import Iterable, Mapping

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .metrics import compute_det_curve, compute_eer, natural_key

__all__ = ["plot_det", "plot_examples", "plot_score_histograms", "plot_per_attack_eer",
           "plot_training_curves"]

_DPI = 120
_BONA_COLOR = "tab:blue"
_SPOOF_COLOR = "tab:red"


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=_DPI)
    FigureCanvasAgg(fig)  # attaches the Agg canvas, so savefig needs no pyplot state
    return fig


def _save(fig: Figure, path) -> Path:
    out = Path(os.fspath(path))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out)
    fig.clear()  # drop artists now rather than at garbage collection
    return out


_probit_scalar = np.frompyfunc(NormalDist().inv_cdf, 1, 1)


def _probit(p: np.ndarray) -> np.ndarray:
    """Standard normal deviate of probabilities ``p`` (strictly inside (0, 1))."""
    return _probit_scalar(np.asarray(p, dtype=np.float64)).astype(np.float64)


def plot_det(bona, spoof, path, *, label: str | None = None,
             title: str = "DET curve") -> Path:
    """DET curve (miss vs false-alarm rate, normal-deviate axes) with the EER point marked.

    Args: ``bona`` (Nb,), ``spoof`` (Ns,) CM scores (higher = more bona fide); ``path``
    output image; ``label`` legend name of the system. Returns ``Path(path)``.
    Raises ValueError on scores :func:`aasist.metrics.compute_det_curve` rejects.
    """
    frr, far, _ = compute_det_curve(bona, spoof)
    eer, _ = compute_eer(bona, spoof)
    n_min = min(np.size(bona), np.size(spoof))
    # Rates below 1/N are not measurable, so the axes start near 0.5/N (at most 1 %,
    # at least 0.01 %); 0 and 1 themselves map to -inf/+inf and are clipped to the edges.
    lo = min(0.01, max(1e-4, 0.5 / n_min))
    hi = 0.6
    ticks = [t for t in (1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6)
             if lo <= t <= hi]
    eps = lo / 2
    x = _probit(np.clip(far, eps, 1 - eps))
    y = _probit(np.clip(frr, eps, 1 - eps))

    fig = _new_figure(5.5, 5.5)
    ax = fig.add_subplot()
    ax.plot(x, y, color=_BONA_COLOR, lw=1.5, label=label or "CM")
    e = float(_probit(np.clip([eer], eps, 1 - eps))[0])
    ax.plot([e], [e], "o", color="black", ms=6, label=f"EER {100 * eer:.2f} %")
    edge = (float(_probit([lo])[0]), float(_probit([hi])[0]))
    ax.plot(edge, edge, ls=":", color="grey", lw=0.8)  # the EER diagonal
    tick_pos = _probit(np.array(ticks))
    tick_labels = [f"{100 * t:g}" for t in ticks]
    ax.set_xticks(tick_pos, tick_labels)
    ax.set_yticks(tick_pos, tick_labels)
    ax.set_xlim(*edge)
    ax.set_ylim(*edge)
    ax.set_xlabel("False acceptance rate of spoofs (%)")
    ax.set_ylabel("False rejection rate of bona fide (%)")
    ax.set_title(title)
    ax.grid(True, lw=0.4, alpha=0.6)
    ax.legend(loc="upper right")
    ax.set_aspect("equal")
    return _save(fig, path)


def plot_score_histograms(bona_scores, spoof_scores_by_attack, path, *,
                          bins: int = 60, title: str = "CM score distributions") -> Path:
    """One panel per attack: the bona fide score histogram against that attack's.

    Args: ``bona_scores`` (Nb,); ``spoof_scores_by_attack`` mapping attack id -> (Na,)
    scores (a plain array counts as one attack named "spoof"); ``bins`` shared by all
    panels. Histograms are densities, so classes of different sizes compare.
    """
    bona = np.asarray(bona_scores, dtype=np.float64).ravel()
    if not isinstance(spoof_scores_by_attack, Mapping):
        spoof_scores_by_attack = {"spoof": spoof_scores_by_attack}
    attacks = {k: np.asarray(v, dtype=np.float64).ravel()
               for k, v in sorted(spoof_scores_by_attack.items(), key=lambda kv: natural_key(str(kv[0])))}
    if bona.size == 0 or not attacks or any(v.size == 0 for v in attacks.values()):
        raise ValueError("plot_score_histograms needs non-empty bona fide scores and at least "
                         "one non-empty attack")
    everything = np.concatenate([bona, *attacks.values()])
    if not np.all(np.isfinite(everything)):
        raise ValueError("plot_score_histograms: scores contain NaN or inf")
    edges = np.histogram_bin_edges(everything, bins=bins)

    ncols = min(4, len(attacks))
    nrows = math.ceil(len(attacks) / ncols)
    fig = _new_figure(3.2 * ncols, 2.4 * nrows + 0.4)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True)
    for ax, (attack, scores) in zip(axes.flat, attacks.items()):
        ax.hist(bona, bins=edges, density=True, color=_BONA_COLOR, alpha=0.45, label="bona fide")
        ax.hist(scores, bins=edges, density=True, histtype="step", lw=1.4, color=_SPOOF_COLOR,
                label=str(attack))
        ax.set_title(f"{attack} (n={scores.size})", fontsize=9)
        ax.tick_params(labelsize=8)
        ax.legend(fontsize=7, loc="upper left")
    for ax in list(axes.flat)[len(attacks):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("CM score (higher = bona fide)", fontsize=8)
    fig.suptitle(title)
    return _save(fig, path)


def plot_per_attack_eer(per_attack_dict: Mapping[str, float], path, *,
                        pooled_eer_percent: float | None = None,
                        title: str = "EER per attack") -> Path:
    """Bar chart of EER (%) per attack id, with an optional line at the pooled EER (%)."""
    if not per_attack_dict:
        raise ValueError("plot_per_attack_eer needs at least one attack -> EER (%) entry")
    items = sorted(per_attack_dict.items(), key=lambda kv: natural_key(str(kv[0])))
    names = [str(k) for k, _ in items]
    values = np.array([float(v) for _, v in items])
    if not np.all(np.isfinite(values)):
        raise ValueError("plot_per_attack_eer: EER values must be finite numbers (percent)")

    fig = _new_figure(max(4.0, 0.55 * len(names) + 1.5), 3.6)
    ax = fig.add_subplot()
    bars = ax.bar(names, values, color=_SPOOF_COLOR, alpha=0.8)
    ax.bar_label(bars, labels=[f"{v:.2f}" for v in values], fontsize=7, padding=2)
    if pooled_eer_percent is not None:
        ax.axhline(pooled_eer_percent, color="black", ls="--", lw=1,
                   label=f"pooled {pooled_eer_percent:.2f} %")
        ax.legend(fontsize=8)
    ax.set_ylim(0, max(values.max(), pooled_eer_percent or 0) * 1.15 + 1e-9)
    ax.set_xlabel("attack")
    ax.set_ylabel("EER (%)")
    ax.set_title(title)
    ax.grid(True, axis="y", lw=0.4, alpha=0.6)
    return _save(fig, path)


def _column(rows: list[Mapping], key: str) -> np.ndarray:
    """Float column from dict rows; missing or empty cells (e.g. CSV '') become NaN."""
    out = []
    for i, row in enumerate(rows):
        value = row.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            out.append(math.nan)
            continue
        try:
            out.append(float(value))
        except (TypeError, ValueError):
            raise ValueError(f"training row {i}: {key}={value!r} is not a number") from None
    return np.array(out, dtype=np.float64)


def plot_training_curves(rows: Iterable[Mapping], path, *, title: str = "Training") -> Path:
    """Training loss and dev EER (%) per epoch, best dev epoch marked.

    Args: ``rows`` dicts with keys ``epoch``, ``train_loss``, ``dev_eer_percent`` (numbers
    or numeric strings, as read back from ``metrics.csv``; empty cells are skipped).
    """
    rows = list(rows)
    required = ("epoch", "train_loss", "dev_eer_percent")
    if not rows:
        raise ValueError("plot_training_curves needs at least one row")
    missing = [k for k in required if all(k not in r for r in rows)]
    if missing:
        raise ValueError(f"training rows lack {missing}; each row needs keys {list(required)}")
    epoch = _column(rows, "epoch")
    loss = _column(rows, "train_loss")
    eer = _column(rows, "dev_eer_percent")

    fig = _new_figure(9.0, 3.4)
    ax_loss, ax_eer = fig.subplots(1, 2)
    ok = np.isfinite(epoch) & np.isfinite(loss)
    ax_loss.plot(epoch[ok], loss[ok], "-o", ms=3, color=_BONA_COLOR)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("training loss")
    ax_loss.set_title("training loss")
    ok = np.isfinite(epoch) & np.isfinite(eer)
    ax_eer.plot(epoch[ok], eer[ok], "-o", ms=3, color=_SPOOF_COLOR)
    if ok.any():
        best = int(np.flatnonzero(ok)[np.argmin(eer[ok])])
        ax_eer.plot([epoch[best]], [eer[best]], "*", ms=12, color="black",
                    label=f"best {eer[best]:.3f} % (epoch {epoch[best]:g})")
        ax_eer.legend(fontsize=8)
    ax_eer.set_xlabel("epoch")
    ax_eer.set_ylabel("dev EER (%)")
    ax_eer.set_title("dev EER")
    for ax in (ax_loss, ax_eer):
        ax.grid(True, lw=0.4, alpha=0.6)
    fig.suptitle(title)
    return _save(fig, path)


def plot_examples(examples: Mapping[str, np.ndarray], path, *, sample_rate: int = 16000,
                  n_fft: int = 512) -> Path:
    """Waveform (top) and log spectrogram (bottom) of each named clip, side by side.

    ``examples`` maps a title (e.g. "bona fide LA_T_1000137") to a 1-D float waveform.
    """
    fig = _new_figure(4.2 * len(examples), 5.0)
    axes = fig.subplots(2, len(examples), squeeze=False)
    hop = n_fft // 4
    for col, (title, wave) in enumerate(examples.items()):
        wave = np.asarray(wave, dtype=np.float64)
        t = np.arange(len(wave)) / sample_rate
        axes[0, col].plot(t, wave, lw=0.5, color=_BONA_COLOR if col == 0 else _SPOOF_COLOR)
        axes[0, col].set_title(title, fontsize=9)
        axes[0, col].set_xlabel("time (s)")
        n_frames = max(1 + (len(wave) - n_fft) // hop, 1)
        frames = np.stack([np.resize(wave[i * hop:i * hop + n_fft], n_fft) for i in range(n_frames)])
        power = np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)) ** 2
        axes[1, col].imshow(10 * np.log10(power.T + 1e-10), origin="lower", aspect="auto",
                            extent=(0, len(wave) / sample_rate, 0, sample_rate / 2000), cmap="magma")
        axes[1, col].set_xlabel("time (s)")
        axes[1, col].set_ylabel("kHz")
    fig.tight_layout()
    return _save(fig, path)
