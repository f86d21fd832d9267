"""Scores that mean something: calibration to log-likelihood ratios, and fusion of systems.

A model's ``score`` (its bona fide logit) ranks trials but is not a probability of anything:
its offset and scale depend on the training data, the class weights and the audio. This
module maps scores to **log-likelihood ratios** ``llr = log p(x | bona fide) / p(x | spoof)``
with a prior-weighted logistic regression (the BOSARIS / ASVspoof 5 ``Tool-score-fusion``
recipe): ``llr = w . s + b`` where ``s`` holds one score per system; one system is
calibration, several are fusion. An LLR turns into a posterior for any prior, and into a
decision at the Bayes threshold for any costs (:class:`Decision`).

Judged by ``Cllr`` (bits; 0 perfect, 1 "no idea") and its calibration-free floor
``min_cllr`` (:mod:`aasist.metrics`), and by ``act_dcf`` against ``min_dcf``.

Files: ``aasist calibrate fit`` writes a :class:`Calibration` as JSON; ``apply`` writes the
official 4-column score file with the LLR as score.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

import numpy as np

from . import metrics
from .data.scores import CMScores, read_cm_scores
from .errors import ConfigError, DataError
from .fileio import atomic_write

PathLike = Union[str, "os.PathLike[str]"]

FORMAT = "aasist-calibration"
VERSION = 1
#: The ASVspoof 5 costs (Cmiss 1, Cfa 10, Pspoof 0.05): the default decision.
DEFAULT_COSTS = dict(metrics.DCF_COST_MODEL)
_QUANTILES = 1001  # spoof LLR quantiles kept, for thresholds at a false-accept rate


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


# --------------------------------------------------------------------------- the mapping


@dataclass(frozen=True)
class Calibration:
    """``llr = weights . scores + bias`` for scores of ``systems`` (one column each).

    ``spoof_prior`` is the prior of spoofs the regression was weighted for; ``counts``,
    ``cllr_before`` (per system, raw scores read as LLRs), ``cllr_after``, ``min_cllr`` and
    ``eer_percent`` describe the data it was fitted on (``data``: the score files or audio);
    ``spoof_llr_quantiles`` are the LLRs of its spoof trials at 1001 evenly spaced levels,
    from which a threshold at a false-accept rate is read.
    """

    weights: list[float]
    bias: float
    systems: list[str]
    spoof_prior: float = 0.5
    counts: dict = field(default_factory=dict)
    cllr_before: list[float] = field(default_factory=list)
    cllr_after: Optional[float] = None
    min_cllr: Optional[float] = None
    eer_percent: Optional[float] = None
    data: list[str] = field(default_factory=list)
    spoof_llr_quantiles: list[float] = field(default_factory=list)
    name: str = ""

    def llr(self, scores: np.ndarray) -> np.ndarray:
        """(N, S) or (N,) scores of the ``systems`` (in order) -> (N,) LLRs."""
        scores = np.asarray(scores, dtype=np.float64)
        if scores.ndim == 1:
            scores = scores[:, None]
        if scores.shape[1] != len(self.weights):
            raise DataError(f"calibration {self.name or ''} expects {len(self.weights)} score(s) "
                            f"per trial ({', '.join(self.systems)}), got {scores.shape[1]}")
        return scores @ np.asarray(self.weights) + self.bias

    def threshold_at_fpr(self, fpr: float) -> float:
        """The LLR above which a fraction ``fpr`` of the calibration data's spoofs lies."""
        if not self.spoof_llr_quantiles:
            raise ConfigError("--target-fpr needs a calibration that records its spoof LLRs; "
                              "fit one with `aasist calibrate fit`")
        if not 0 < fpr < 1:
            raise ConfigError(f"--target-fpr must be between 0 and 1, got {fpr}")
        q = np.asarray(self.spoof_llr_quantiles)
        return float(np.interp(1 - fpr, np.linspace(0, 1, q.size), q))

    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": VERSION, **asdict(self)}

    def save(self, path: PathLike) -> None:
        with atomic_write(path) as fh:
            fh.write(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: PathLike) -> "Calibration":
        """Read a calibration JSON; DataError naming the file when it is not one."""
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(f"{path}: calibration file not found; make one with "
                            f"`aasist calibrate fit`") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(f"{path}: not a calibration file ({exc.__class__.__name__}); make "
                            f"one with `aasist calibrate fit`") from None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise DataError(f"{path}: not a calibration file (no \"format\": \"{FORMAT}\"); "
                            f"make one with `aasist calibrate fit`")
        fields_ = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw}
        try:
            cal = cls(**fields_)
            weights = [float(w) for w in cal.weights]
            ok = (weights and all(math.isfinite(w) for w in weights) and math.isfinite(cal.bias)
                  and len(cal.systems) == len(weights) and 0 < cal.spoof_prior < 1)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise DataError(f"{path}: damaged calibration (weights, bias, systems or prior); "
                            f"fit it again with `aasist calibrate fit`")
        return cls(**{**fields_, "weights": weights, "bias": float(cal.bias),
                      "name": cal.name or path.stem})


def fit(scores: np.ndarray, is_bonafide: np.ndarray, systems: Sequence[str],
        spoof_prior: float = 0.5,
        data: Sequence[str] = (), name: str = "", l2: float = 1e-6) -> Calibration:
    """Fit ``llr = w . s + b`` by prior-weighted logistic regression.

    ``scores`` (N, S) (or (N,)), ``is_bonafide`` (N,) bool. Each class's trials weigh
    ``1 - spoof_prior`` / ``spoof_prior`` in total, so the class counts of the data do not
    act as a prior; the regression's log-odds of bona fide minus their prior log-odds is the
    LLR. ``l2``: a tiny
    ridge on ``w`` (relative to the standardised scores), which only matters for perfectly
    separable data, where the unpenalised weights would grow without bound.
    """
    from scipy.optimize import minimize

    x = np.asarray(scores, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x
    y = np.asarray(is_bonafide, dtype=bool)
    if not 0 < spoof_prior < 1:
        raise ConfigError(f"--prior must be between 0 and 1, got {spoof_prior}")
    prior = 1 - spoof_prior  # of bona fide, the class the regression scores
    n_bona, n_spoof = int(y.sum()), int((~y).sum())
    if n_bona == 0 or n_spoof == 0:
        raise DataError("calibration needs both bona fide and spoof trials; the data has "
                        f"{n_bona} bona fide and {n_spoof} spoof")
    if not np.isfinite(x).all():
        raise DataError("calibration scores must be finite numbers")
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std == 0] = 1.0
    z = (x - mean) / std
    weight = np.where(y, prior / n_bona, (1 - prior) / n_spoof)
    sign = np.where(y, 1.0, -1.0)
    offset = _logit(prior)

    def objective(theta):
        w, b = theta[:-1], theta[-1]
        margin = sign * (z @ w + b + offset)
        loss = np.sum(weight * np.logaddexp(0, -margin)) + l2 * np.dot(w, w)
        p = -sign * weight * np.exp(-np.logaddexp(0, margin))  # d loss / d (z w + b)
        return loss, np.append(z.T @ p + 2 * l2 * w, p.sum())

    result = minimize(objective, np.zeros(z.shape[1] + 1), jac=True, method="L-BFGS-B",
                      options={"maxiter": 1000, "gtol": 1e-10, "ftol": 1e-14})
    w_std, b_std = result.x[:-1], result.x[-1]
    weights = w_std / std
    bias = float(b_std - np.dot(weights, mean))
    llr = x @ weights + bias
    bona, spoof = llr[y], llr[~y]
    before = [metrics.cllr(x[y, i], x[~y, i]) for i in range(x.shape[1])]
    return Calibration(
        weights=[float(w) for w in weights], bias=bias, systems=list(systems), spoof_prior=spoof_prior,
        counts={"bonafide": n_bona, "spoof": n_spoof}, cllr_before=before,
        cllr_after=metrics.cllr(bona, spoof), min_cllr=metrics.min_cllr(bona, spoof),
        eer_percent=100 * metrics.compute_eer(bona, spoof)[0], data=list(data),
        spoof_llr_quantiles=[float(v) for v in np.quantile(spoof, np.linspace(0, 1, _QUANTILES))],
        name=name)


# --------------------------------------------------------------------------- score files


def join_score_files(paths: Sequence[PathLike]) -> tuple[list[str], list[str], list[str], np.ndarray]:
    """Read official 4-column CM score files and join them by utterance id.

    Returns ``(utt_ids, sources, keys, scores (N, S))`` in the first file's order. Every file
    must hold the same trials with the same keys: a missing or extra id, or a key that
    differs, is a DataError naming the file, the id and its line.
    """
    if not paths:
        raise ConfigError("give at least one score file")
    files: list[CMScores] = [read_cm_scores(p) for p in paths]
    first = files[0]
    columns = [first.scores]
    for other in files[1:]:
        where = {u: i for i, u in enumerate(other.utt_ids)}
        missing = [u for u in first.utt_ids if u not in where]
        if missing:
            raise DataError(f"{other.path}: trial {missing[0]!r} of {first.path} is missing "
                            f"({len(missing)} in all); fuse score files of the same trials")
        extra = set(other.utt_ids) - set(first.utt_ids)
        if extra:
            trial = next(u for u in other.utt_ids if u in extra)
            raise DataError(f"{other.path}:{where[trial] + 1}: trial {trial!r} is not in "
                            f"{first.path} ({len(extra)} in all); fuse score files of the "
                            f"same trials")
        order = np.array([where[u] for u in first.utt_ids])
        keys = [other.keys[i] for i in order]
        bad = next((j for j, (a, b) in enumerate(zip(first.keys, keys)) if a != b), None)
        if bad is not None:
            raise DataError(f"{other.path}:{order[bad] + 1}: trial {first.utt_ids[bad]!r} is "
                            f"{keys[bad]}, {first.path} says {first.keys[bad]}")
        columns.append(other.scores[order])
    return first.utt_ids, first.sources, first.keys, np.stack(columns, axis=1)


def fit_score_files(paths: Sequence[PathLike], spoof_prior: float = 0.5,
                    systems: Optional[Sequence[str]] = None) -> Calibration:
    """`aasist calibrate fit SCORES...`: one file calibrates a system, several fuse them."""
    _, _, keys, scores = join_score_files(paths)
    is_bona = np.array([k == "bonafide" for k in keys])
    names = list(systems) if systems else [Path(p).stem for p in paths]
    return fit(scores, is_bona, names, spoof_prior, data=[str(p) for p in paths])


def apply_score_files(calibration: Calibration, paths: Sequence[PathLike],
                      out: PathLike) -> np.ndarray:
    """`aasist calibrate apply`: write ``utt source key llr`` (the 4 columns, LLR as score)."""
    utt_ids, sources, keys, scores = join_score_files(paths)
    llr = calibration.llr(scores)
    with atomic_write(out) as fh:
        for row in zip(utt_ids, sources, keys, llr):
            fh.write(f"{row[0]} {row[1]} {row[2]} {float(row[3])!r}\n")
    return llr


def read_labels(path: PathLike) -> list[tuple[str, bool]]:
    """A CSV of labelled audio: a header with ``path`` and ``label`` columns, labels
    ``bonafide`` (or ``bona-fide``) / ``spoof``; relative paths are relative to the CSV's
    folder. Returns ``[(audio path, is bona fide)]``; DataError naming the line otherwise."""
    from .data.textfile import bad_line, csv_row, data_lines

    path = Path(path)
    lines = list(data_lines(path, "labels CSV", "write one 'path,label' line per audio file"))
    if not lines:
        raise DataError(f"{path}: empty; expected a header 'path,label' and one row per file")
    header = [h.strip().lower() for h in csv_row(path, *lines[0])]
    if "path" not in header or "label" not in header:
        raise bad_line(path, lines[0][0], lines[0][1], "no 'path' and 'label' columns",
                       "a header line 'path,label'")
    i_path, i_label = header.index("path"), header.index("label")
    out = []
    for number, line in lines[1:]:
        row = csv_row(path, number, line)
        if len(row) != len(header):
            raise bad_line(path, number, line, f"{len(row)} fields", f"{len(header)} like the header")
        label = row[i_label].strip().lower().replace("-", "")
        if label not in ("bonafide", "spoof"):
            raise bad_line(path, number, line, f"unknown label {row[i_label]!r}",
                           "label bonafide or spoof")
        audio = Path(row[i_path].strip())
        out.append((str(audio if audio.is_absolute() else path.parent / audio), label == "bonafide"))
    return out


# --------------------------------------------------------------------------- decisions


def training_llr_offset(class_weights: Sequence[float], bonafide_fraction: float) -> float:
    """What the logit difference of a model trained with weighted cross-entropy carries on
    top of the LLR: ``log(w_bona pi / (w_spoof (1 - pi)))`` for class weights
    ``[w_spoof, w_bona]`` and a training set that is a fraction ``pi`` bona fide (weighting a
    class is like raising its prior). The official LA recipe, [0.1, 0.9] on 10.2 % bona fide,
    gives +0.02; the mini demo's [0.3, 0.7] on 30 % gives 0."""
    w_spoof, w_bona = (float(w) for w in class_weights)
    pi = float(bonafide_fraction)
    return math.log(w_bona * pi / (w_spoof * (1 - pi)))


@dataclass(frozen=True)
class Decision:
    """How an LLR becomes a verdict and a probability.

    ``p_spoof`` is the posterior of spoof at ``prior`` (the spoof prior the user believes
    for their audio, default 0.5); ``label`` is ``spoof`` below ``threshold``: the Bayes
    threshold of ``costs`` (default the ASVspoof 5 ones) unless a false-accept rate on the
    calibration data fixed it (``--target-fpr``).
    """

    prior: float = 0.5
    costs: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_COSTS))
    threshold: Optional[float] = None

    def __post_init__(self):
        if not 0 < self.prior < 1:
            raise ConfigError(f"--prior must be between 0 and 1, got {self.prior}")
        try:
            metrics._dcf_costs(self.costs)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if self.threshold is None:
            p, c_miss, c_fa = metrics._dcf_costs(self.costs)
            object.__setattr__(self, "threshold", -math.log(c_miss * (1 - p) / (c_fa * p)))

    def p_spoof(self, llr: float) -> float:
        z = llr + _logit(1 - self.prior)  # posterior log odds of bona fide
        return float(np.exp(-np.logaddexp(0.0, z)))

    def label(self, llr: float) -> str:
        return "bonafide" if llr >= self.threshold else "spoof"


__all__ = ["Calibration", "DEFAULT_COSTS", "Decision", "apply_score_files", "fit",
           "fit_score_files", "join_score_files", "read_labels", "training_llr_offset"]
