"""Detection metrics for spoofing countermeasures (CM): DET, EER, min t-DCF (ASVspoof 2019
and 2021), min/actual DCF and Cllr (ASVspoof 5). Pure maths: arrays in, numbers out
(reading score files is :mod:`aasist.data.scores`' job).

Conventions (the ASVspoof ones):

- Scores are float64; a higher score means "more bona fide" (or "more target" for ASV).
- Rates and EERs are fractions in [0, 1]; only the report (``*_percent`` keys) uses percent.
- The numbers match the official evaluation code (ASVspoof 2019: ``evaluation.py`` of
  clovaai/aasist, ``tDCF_python_v2``; ASVspoof 2021: ``eval-package``; ASVspoof 5:
  ``evaluation-package``) exactly, quirks included: ties are broken with a
  stable sort that puts the positive class first, the EER is the mean of the miss and
  false-alarm rates at the operating point where they are closest, and the ASV operating
  point is the ASV EER threshold, applied as "accept if score >= threshold".

Input checks (every public function): scores must be finite, each class non-empty, and
not hard decisions. **Hard-decision rule**: the two classes together must take at least
3 distinct values; 2 or fewer distinct values are accept/reject decisions, whose DET
curve has no operating point between the two trivial ones. This is the rule the official
t-DCF code applies (``np.unique(scores).size < 3``).
"""
from __future__ import annotations

import math
import re
from typing import Mapping, Sequence

import numpy as np

__all__ = [
    "COST_MODEL_2019",
    "COST_MODEL_2021",
    "compute_det_curve",
    "compute_eer",
    "asv_error_rates",
    "tdcf_curve_2019",
    "tdcf_curve_2021",
    "min_tdcf_2019",
    "min_tdcf_2021",
    "DCF_COST_MODEL",
    "min_dcf",
    "act_dcf",
    "cllr",
    "min_cllr",
    "pav_llrs",
    "calibration_report",
    "natural_key",
    "report_from_arrays",
    "format_report",
]

_PSPOOF = 0.05
# Written as products, like the official code, so the float64 priors are bit-identical.
COST_MODEL_2019: Mapping[str, float] = {
    "Pspoof": _PSPOOF,                  # prior of a spoofing attack
    "Ptar": (1 - _PSPOOF) * 0.99,       # prior of a target speaker (0.9405)
    "Pnon": (1 - _PSPOOF) * 0.01,       # prior of a zero-effort impostor (0.0095)
    "Cmiss_asv": 1.0,                   # ASV falsely rejects a target
    "Cfa_asv": 10.0,                    # ASV falsely accepts a nontarget
    "Cmiss_cm": 1.0,                    # CM falsely rejects a bona fide target
    "Cfa_cm": 10.0,                     # CM falsely accepts a spoof
}
"""Legacy ASVspoof 2019 t-DCF cost model (evaluation plan, Odyssey 2018 t-DCF)."""

COST_MODEL_2021: Mapping[str, float] = {
    "Pspoof": _PSPOOF,
    "Ptar": (1 - _PSPOOF) * 0.99,
    "Pnon": (1 - _PSPOOF) * 0.01,
    "Cmiss": 1.0,                       # tandem system falsely rejects a target
    "Cfa": 10.0,                        # tandem system falsely accepts a nontarget
    "Cfa_spoof": 10.0,                  # tandem system falsely accepts a spoof
}
"""Revised t-DCF cost model of ASVspoof 2021 (Kinnunen et al., IEEE/ACM TASLP 2020)."""

DCF_COST_MODEL: Mapping[str, float] = {
    "Pspoof": _PSPOOF,                  # prior of a spoof among the CM's inputs
    "Cmiss": 1.0,                       # CM rejects bona fide speech
    "Cfa": 10.0,                        # CM accepts a spoof
}
"""Cost model of the stand-alone CM detection cost (ASVspoof 5 track 1 evaluation plan)."""

# The official 2019 dict also carries "Cmiss" and "Cfa", which the legacy formula never
# reads; accepting them lets a caller pass that dict unchanged.
_IGNORED_2019_KEYS = frozenset({"Cmiss", "Cfa"})

# Attack ids that mean "no attack" (protocols write "-", some score files "bonafide").
_BONAFIDE_SOURCES = ("-", "bonafide")


# --------------------------------------------------------------------------- checks

def _as_scores(values, name: str) -> np.ndarray:
    """Return ``values`` as a 1-D float64 array, raising ValueError if unusable."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: scores must be numbers ({exc})") from None
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of scores, got shape {arr.shape}; "
                         "flatten it or pass one class at a time")
    if arr.size == 0:
        raise ValueError(f"{name}: no scores (empty class); both classes need at least one trial")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}: {int(bad.sum())} score(s) are NaN or infinite "
                         f"(first at index {first}: {arr[first]}); fix the scoring step")
    return arr


def _check_pair(pos, neg, pos_name: str, neg_name: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate a positive/negative score pair (finite, non-empty, soft scores)."""
    pos = _as_scores(pos, pos_name)
    neg = _as_scores(neg, neg_name)
    n_unique = np.unique(np.concatenate((pos, neg))).size
    if n_unique < 3:
        raise ValueError(f"{pos_name} and {neg_name} together take only {n_unique} distinct "
                         "value(s): these look like hard decisions; pass soft scores "
                         "(e.g. the bona fide logit), at least 3 distinct values")
    return pos, neg


def _cost_model(cost_model: Mapping[str, float] | None, default: Mapping[str, float],
                ignored: frozenset = frozenset()) -> dict[str, float]:
    """Merge ``cost_model`` over ``default`` and check names, signs and priors."""
    merged = dict(default)
    if cost_model is not None:
        unknown = sorted(set(cost_model) - set(default) - ignored)
        if unknown:
            raise ValueError(f"unknown cost model key(s) {unknown}; valid keys: "
                             f"{sorted(default)}")
        merged.update({k: v for k, v in cost_model.items() if k in default})
    for key, value in merged.items():
        if not (isinstance(value, (int, float, np.floating, np.integer)) and math.isfinite(value)
                and value >= 0):
            raise ValueError(f"cost model {key}={value!r}: must be a finite number >= 0")
    prior_sum = merged["Ptar"] + merged["Pnon"] + merged["Pspoof"]
    if abs(prior_sum - 1) > 1e-10:
        raise ValueError(f"cost model priors Ptar + Pnon + Pspoof = {prior_sum!r}; "
                         "they must sum to 1")
    return merged


# --------------------------------------------------------------------------- DET / EER

def _det(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DET curve without input checks (see :func:`compute_det_curve`)."""
    scores = np.concatenate((pos, neg))
    is_pos = np.concatenate((np.ones(pos.size, dtype=np.int64), np.zeros(neg.size, dtype=np.int64)))
    # Stable sort, positives first in the input: at tied scores positives are rejected
    # first, exactly as the official mergesort does.
    order = np.argsort(scores, kind="stable")
    pos_rejected = np.cumsum(is_pos[order])
    neg_rejected = np.arange(1, scores.size + 1) - pos_rejected
    frr = np.concatenate(([0.0], pos_rejected / pos.size))
    far = np.concatenate(([1.0], (neg.size - neg_rejected) / neg.size))
    sorted_scores = scores[order]
    thresholds = np.concatenate(([sorted_scores[0] - 0.001], sorted_scores))
    return frr, far, thresholds


def compute_det_curve(bona, spoof) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DET curve of positive (``bona``) versus negative (``spoof``) scores.

    Args: ``bona`` (Nb,), ``spoof`` (Ns,) array-likes of scores, higher = more bona fide.
    Returns ``(frr, far, thresholds)``, each (Nb + Ns + 1,) float64. Point 0 rejects nothing
    (frr 0, far 1, threshold = lowest score - 0.001); point k >= 1 rejects the k lowest
    trials, i.e. "reject if score <= thresholds[k]" when scores are distinct.
    Raises ValueError on NaN/inf, an empty class or hard decisions.
    """
    pos, neg = _check_pair(bona, spoof, "bona fide scores", "spoof scores")
    return _det(pos, neg)


def _eer(pos: np.ndarray, neg: np.ndarray) -> tuple[float, float]:
    frr, far, thresholds = _det(pos, neg)
    i = int(np.argmin(np.abs(frr - far)))  # first of equally close points, as official
    return float((frr[i] + far[i]) / 2), float(thresholds[i])


def compute_eer(bona, spoof) -> tuple[float, float]:
    """Equal error rate and its threshold.

    Args: ``bona`` (Nb,), ``spoof`` (Ns,) scores. Returns ``(eer, threshold)``: ``eer`` a
    fraction in [0, 1], the mean of frr and far at the DET point where |frr - far| is
    smallest; ``threshold`` that point's threshold (score units).
    Raises ValueError on NaN/inf, an empty class or hard decisions.
    """
    pos, neg = _check_pair(bona, spoof, "bona fide scores", "spoof scores")
    return _eer(pos, neg)


# --------------------------------------------------------------------------- t-DCF

def asv_error_rates(asv_target, asv_nontarget, asv_spoof,
                    threshold: float) -> tuple[float, float, float]:
    """ASV error rates at a fixed ``threshold`` (accept if score >= threshold).

    Returns ``(pfa, pmiss, pfa_spoof)`` fractions: nontargets accepted, targets rejected,
    spoofs accepted (the legacy code uses ``1 - pfa_spoof``, its "spoof miss rate").
    """
    tar = _as_scores(asv_target, "ASV target scores")
    non = _as_scores(asv_nontarget, "ASV nontarget scores")
    spf = _as_scores(asv_spoof, "ASV spoof scores")
    pfa = np.count_nonzero(non >= threshold) / non.size
    pmiss = np.count_nonzero(tar < threshold) / tar.size
    pfa_spoof = np.count_nonzero(spf >= threshold) / spf.size
    return float(pfa), float(pmiss), float(pfa_spoof)


def _asv_operating_point(asv_target, asv_nontarget, asv_spoof) -> tuple[float, float, float]:
    """ASV error rates at the ASV EER threshold, as both official t-DCF scripts fix it."""
    tar, non = _check_pair(asv_target, asv_nontarget, "ASV target scores", "ASV nontarget scores")
    _, threshold = _eer(tar, non)
    return asv_error_rates(tar, non, asv_spoof, threshold)


def tdcf_curve_2019(bona_cm, spoof_cm, pfa_asv: float, pmiss_asv: float,
                    pmiss_spoof_asv: float, cost_model: Mapping[str, float] | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Legacy (ASVspoof 2019) normalised t-DCF over all CM thresholds, for a fixed ASV.

    ``pmiss_spoof_asv`` is the fraction of spoofs the ASV rejects. The curve is
    ``(C1 * Pmiss_cm + C2 * Pfa_cm) / min(C1, C2)`` with
    ``C1 = Ptar (Cmiss_cm - Cmiss_asv Pmiss_asv) - Pnon Cfa_asv Pfa_asv`` and
    ``C2 = Cfa_cm Pspoof (1 - Pmiss_spoof_asv)``.
    Returns ``(curve, thresholds)``, each (Nb + Ns + 1,), aligned with :func:`compute_det_curve`.
    """
    cm = _cost_model(cost_model, COST_MODEL_2019, _IGNORED_2019_KEYS)
    pmiss_cm, pfa_cm, thresholds = compute_det_curve(bona_cm, spoof_cm)
    c1 = cm["Ptar"] * (cm["Cmiss_cm"] - cm["Cmiss_asv"] * pmiss_asv) \
        - cm["Pnon"] * cm["Cfa_asv"] * pfa_asv
    c2 = cm["Cfa_cm"] * cm["Pspoof"] * (1 - pmiss_spoof_asv)
    if c1 < 0 or c2 < 0:
        raise ValueError(f"legacy t-DCF weights are negative (C1={c1}, C2={c2}); check the ASV "
                         "error rates (fractions, not percent) and the cost model")
    norm = min(c1, c2)
    if norm <= 0:
        raise ValueError(f"legacy t-DCF is undefined: min(C1, C2) = {norm} (e.g. the ASV rejects "
                         "every spoof); use min_tdcf_2021, whose normaliser stays positive")
    return (c1 * pmiss_cm + c2 * pfa_cm) / norm, thresholds


def tdcf_curve_2021(bona_cm, spoof_cm, pfa_asv: float, pmiss_asv: float,
                    pfa_spoof_asv: float, cost_model: Mapping[str, float] | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Revised (ASVspoof 2021) normalised t-DCF over all CM thresholds, for a fixed ASV.

    ``pfa_spoof_asv`` is the fraction of spoofs the ASV accepts. With
    ``C0 = Ptar Cmiss Pmiss_asv + Pnon Cfa Pfa_asv``, ``C1 = Ptar Cmiss - C0`` and
    ``C2 = Pspoof Cfa_spoof Pfa_spoof_asv`` the curve is
    ``(C0 + C1 Pmiss_cm + C2 Pfa_cm) / (C0 + min(C1, C2))``; the denominator is the cost
    of the better of the two trivial CMs (accept all, reject all), so min t-DCF <= 1.
    Returns ``(curve, thresholds)``, each (Nb + Ns + 1,).
    """
    cm = _cost_model(cost_model, COST_MODEL_2021)
    pmiss_cm, pfa_cm, thresholds = compute_det_curve(bona_cm, spoof_cm)
    c0 = cm["Ptar"] * cm["Cmiss"] * pmiss_asv + cm["Pnon"] * cm["Cfa"] * pfa_asv
    c1 = cm["Ptar"] * cm["Cmiss"] - c0
    c2 = cm["Pspoof"] * cm["Cfa_spoof"] * pfa_spoof_asv
    if c0 < 0 or c1 < 0 or c2 < 0:
        raise ValueError(f"t-DCF weights are negative (C0={c0}, C1={c1}, C2={c2}); check the ASV "
                         "error rates (fractions, not percent) and the cost model")
    norm = c0 + min(c1, c2)
    if norm <= 0:
        raise ValueError("t-DCF is undefined: the default (CM-free) cost is 0, i.e. the ASV "
                         "makes no costly error; nothing is left for a CM to improve")
    return (c0 + c1 * pmiss_cm + c2 * pfa_cm) / norm, thresholds


def min_tdcf_2019(bona_cm, spoof_cm, asv_target, asv_nontarget, asv_spoof,
                  cost_model: Mapping[str, float] | None = None
                  ) -> tuple[float, np.ndarray, np.ndarray]:
    """Minimum legacy ASVspoof 2019 t-DCF of a CM in tandem with the given ASV scores.

    Args: CM scores ``bona_cm`` (Nb,), ``spoof_cm`` (Ns,); ASV scores ``asv_target``,
    ``asv_nontarget``, ``asv_spoof`` (any lengths >= 1). The ASV works at its EER threshold.
    ``cost_model``: keys of :data:`COST_MODEL_2019` to override (default: that model).
    Returns ``(min_tdcf, curve, thresholds)``; curve and thresholds are (Nb + Ns + 1,).
    """
    pfa, pmiss, pfa_spoof = _asv_operating_point(asv_target, asv_nontarget, asv_spoof)
    curve, thresholds = tdcf_curve_2019(bona_cm, spoof_cm, pfa, pmiss, 1 - pfa_spoof, cost_model)
    return float(curve.min()), curve, thresholds


def min_tdcf_2021(bona_cm, spoof_cm, asv_target, asv_nontarget, asv_spoof,
                  cost_model: Mapping[str, float] | None = None
                  ) -> tuple[float, np.ndarray, np.ndarray]:
    """Minimum revised (ASVspoof 2021) t-DCF; arguments and return as :func:`min_tdcf_2019`.

    ``cost_model``: keys of :data:`COST_MODEL_2021` to override (default: that model).
    """
    pfa, pmiss, pfa_spoof = _asv_operating_point(asv_target, asv_nontarget, asv_spoof)
    curve, thresholds = tdcf_curve_2021(bona_cm, spoof_cm, pfa, pmiss, pfa_spoof, cost_model)
    return float(curve.min()), curve, thresholds


# --------------------------------------------------------------------------- DCF, Cllr

def _dcf_costs(cost_model: Mapping[str, float] | None) -> tuple[float, float, float]:
    """(Pspoof, Cmiss, Cfa) of ``cost_model`` merged over :data:`DCF_COST_MODEL`."""
    merged = dict(DCF_COST_MODEL)
    if cost_model is not None:
        unknown = sorted(set(cost_model) - set(DCF_COST_MODEL))
        if unknown:
            raise ValueError(f"unknown cost model key(s) {unknown}; valid keys: "
                             f"{sorted(DCF_COST_MODEL)}")
        merged.update(cost_model)
    if not all(isinstance(v, (int, float, np.floating, np.integer)) and math.isfinite(v) and v > 0
               for v in merged.values()) or merged["Pspoof"] >= 1:
        raise ValueError(f"DCF cost model {merged}: costs must be positive numbers and "
                         "0 < Pspoof < 1")
    return float(merged["Pspoof"]), float(merged["Cmiss"]), float(merged["Cfa"])


def min_dcf(bona, spoof, cost_model: Mapping[str, float] | None = None) -> float:
    """Normalised minimum detection cost of a stand-alone CM (ASVspoof 5 track 1).

    ``DCF(t) = Cmiss (1 - Pspoof) Pmiss(t) + Cfa Pspoof Pfa(t)`` over the DET thresholds,
    divided by ``min(Cmiss (1 - Pspoof), Cfa Pspoof)`` (the better of accept-all and
    reject-all), so min DCF <= 1. Args: ``bona`` (Nb,), ``spoof`` (Ns,) scores.
    """
    pos, neg = _check_pair(bona, spoof, "bona fide scores", "spoof scores")
    p_spoof, c_miss, c_fa = _dcf_costs(cost_model)
    frr, far, _ = _det(pos, neg)
    p_target = 1 - p_spoof
    cost = c_miss * frr * p_target + c_fa * far * (1 - p_target)  # the official order
    return float(cost.min() / min(c_miss * p_target, c_fa * (1 - p_target)))


def act_dcf(bona, spoof, cost_model: Mapping[str, float] | None = None) -> tuple[float, float]:
    """Normalised detection cost at the Bayes threshold, reading scores as natural-log LLRs.

    The threshold is ``-log(beta)``, ``beta = Cmiss (1 - Pspoof) / (Cfa Pspoof)`` (-0.642
    for the default costs); a bona fide trial is missed when its score is below it, a spoof
    accepted when its score is at or above it. Returns ``(act_dcf, threshold)``; a
    badly calibrated system scores far above its :func:`min_dcf`.
    """
    pos, neg = _check_pair(bona, spoof, "bona fide scores", "spoof scores")
    p_spoof, c_miss, c_fa = _dcf_costs(cost_model)
    threshold = -np.log(c_miss * (1 - p_spoof) / (c_fa * p_spoof))
    p_miss = np.count_nonzero(pos < threshold) / pos.size
    p_fa = np.count_nonzero(neg >= threshold) / neg.size
    cost = c_miss * (1 - p_spoof) * p_miss + c_fa * p_spoof * p_fa
    return float(cost / min(c_fa * p_spoof, c_miss * (1 - p_spoof))), float(threshold)


def cllr(bona, spoof) -> float:
    """Log-likelihood-ratio cost in bits, reading scores as natural-log LLRs.

    ``0.5 * (mean log2(1 + e^-s) over bona fide + mean log2(1 + e^s) over spoofs)``: 0 for
    a perfect, calibrated system, 1 for one that always says "no idea" (LLR 0). Computed
    with ``logaddexp``, so it stays finite where the official ``log1p(exp(.))`` overflows
    (scores beyond about 709).
    """
    pos, neg = _check_pair(bona, spoof, "bona fide scores", "spoof scores")
    return float(0.5 * (np.mean(np.logaddexp(0, -pos)) + np.mean(np.logaddexp(0, neg)))
                 / np.log(2))


def pav_llrs(bona, spoof) -> tuple[np.ndarray, np.ndarray]:
    """The best monotonic map of the scores to LLRs (pool-adjacent-violators), as the LLRs it
    gives the bona fide (Nb,) and spoof (Ns,) trials, in their input order.

    Isotonic regression of the class (1 = bona fide) on the score, tied scores pooled first
    (they must map to one value), then the posterior turned into an LLR by removing the
    empirical prior log(Nb / Ns). The LLRs may be infinite where a pool holds one class only.
    """
    pos, neg = _check_pair(bona, spoof, "bona fide scores", "spoof scores")
    scores = np.concatenate([pos, neg])
    labels = np.concatenate([np.ones(pos.size), np.zeros(neg.size)])
    values, inverse = np.unique(scores, return_inverse=True)
    sums = np.bincount(inverse, weights=labels)           # bona fide trials per distinct score
    counts = np.bincount(inverse).astype(np.float64)
    # stack of pools: (sum of labels, count, number of distinct scores)
    pool_sum, pool_n, pool_len = [], [], []
    for s_, n_ in zip(sums, counts):
        pool_sum.append(s_), pool_n.append(n_), pool_len.append(1)
        while len(pool_n) > 1 and pool_sum[-2] / pool_n[-2] >= pool_sum[-1] / pool_n[-1]:
            s2, n2, l2 = pool_sum.pop(), pool_n.pop(), pool_len.pop()
            pool_sum[-1] += s2
            pool_n[-1] += n2
            pool_len[-1] += l2
    posterior = np.repeat(np.array(pool_sum) / np.array(pool_n), pool_len)[inverse]
    with np.errstate(divide="ignore"):
        llr = np.log(posterior) - np.log1p(-posterior) - np.log(pos.size / neg.size)
    return llr[:pos.size], llr[pos.size:]


def min_cllr(bona, spoof) -> float:
    """The Cllr (bits) of the best monotonic calibration of the scores (:func:`pav_llrs`):
    the part of :func:`cllr` no calibration can remove; ``cllr - min_cllr`` is the
    calibration loss."""
    pos, neg = pav_llrs(bona, spoof)
    with np.errstate(over="ignore"):
        bona_cost = np.where(np.isposinf(pos), 0.0, np.logaddexp(0, -pos))
        spoof_cost = np.where(np.isneginf(neg), 0.0, np.logaddexp(0, neg))
    return float(0.5 * (np.mean(bona_cost) + np.mean(spoof_cost)) / np.log(2))


# --------------------------------------------------------------------------- reports

def natural_key(name: str) -> list:
    """Sort key so that A2 < A10 (attack and codec ids are letters + numbers)."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def report_from_arrays(bona_cm, spoof_cm, spoof_sources: Sequence[str] | None = None,
                       asv_target=None, asv_nontarget=None, asv_spoof=None) -> dict:
    """Metrics report of a 2019 LA-style evaluation from in-memory scores.

    Args: ``bona_cm`` (Nb,), ``spoof_cm`` (Ns,) CM scores; ``spoof_sources`` (Ns,) attack id
    of each spoof trial (ids ``-``/``bonafide`` are left out of the breakdown; None: no
    breakdown); ASV ``asv_target``/``asv_nontarget``/``asv_spoof`` scores, all or none
    (none: the t-DCF and ASV EER entries are None).
    Returns a JSON-ready dict: ``eer_percent``, ``eer_threshold``, ``min_tdcf`` (legacy
    2019), ``min_tdcf_2021``, ``asv_eer_percent``, ``per_attack_eer_percent`` (attack id ->
    EER %, naturally sorted), ``n_bonafide``, ``n_spoof``.
    """
    bona, spoof = _check_pair(bona_cm, spoof_cm, "CM bona fide scores", "CM spoof scores")
    eer, threshold = _eer(bona, spoof)

    per_attack: dict[str, float] = {}
    if spoof_sources is not None:
        sources = np.asarray(list(spoof_sources), dtype=object)
        if sources.shape != spoof.shape:
            raise ValueError(f"spoof_sources has {sources.size} entries for {spoof.size} spoof "
                             "scores; give one attack id per spoof trial")
        attacks = sorted({s for s in sources if s not in _BONAFIDE_SOURCES}, key=natural_key)
        for attack in attacks:
            # The pooled check already guarantees finite, non-empty scores; like the official
            # breakdown, a single attack is not re-checked for hard decisions.
            per_attack[attack] = 100 * _eer(bona, spoof[sources == attack])[0]

    asv = (asv_target, asv_nontarget, asv_spoof)
    min_tdcf = min_tdcf_21 = asv_eer = None
    if any(a is not None for a in asv):
        if any(a is None for a in asv):
            raise ValueError("ASV scores need all of asv_target, asv_nontarget and asv_spoof "
                             "(or none of them, to skip the t-DCF)")
        tar, non = _check_pair(asv_target, asv_nontarget, "ASV target scores",
                               "ASV nontarget scores")
        asv_eer = 100 * _eer(tar, non)[0]
        min_tdcf = min_tdcf_2019(bona, spoof, tar, non, asv_spoof)[0]
        min_tdcf_21 = min_tdcf_2021(bona, spoof, tar, non, asv_spoof)[0]

    return {
        "eer_percent": 100 * eer,
        "eer_threshold": threshold,
        "min_tdcf": min_tdcf,
        "min_tdcf_2021": min_tdcf_21,
        "asv_eer_percent": asv_eer,
        "per_attack_eer_percent": per_attack,
        "n_bonafide": int(bona.size),
        "n_spoof": int(spoof.size),
        **calibration_report(bona, spoof),
    }


def calibration_report(bona, spoof, cost_model: Mapping[str, float] | None = None) -> dict:
    """How far the scores are from LLRs, reading them as natural-log LLRs (as the ASVspoof 5
    evaluation does): ``min_dcf``, ``act_dcf``, ``cllr_bits``, ``min_cllr_bits``. A large
    gap between act_dcf and min_dcf (or cllr and min_cllr) is a calibration problem, which
    ``aasist calibrate`` fixes; the minima are what the ranking allows."""
    return {"min_dcf": min_dcf(bona, spoof, cost_model),
            "act_dcf": act_dcf(bona, spoof, cost_model)[0],
            "cllr_bits": cllr(bona, spoof), "min_cllr_bits": min_cllr(bona, spoof)}


def _fmt(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def format_report(report: Mapping) -> str:
    """Render a :func:`report_from_arrays` dict as a plain-text table (no trailing newline)."""
    lines = [
        f"{'trials':<24}{report['n_bonafide']} bona fide, {report['n_spoof']} spoof",
        f"{'CM EER':<24}{_fmt(report['eer_percent'], '.4f')} %"
        f"   (threshold {_fmt(report.get('eer_threshold'), '.6g')})",
        f"{'min t-DCF (2019)':<24}{_fmt(report.get('min_tdcf'), '.6f')}",
    ]
    if "min_tdcf_2021" in report:
        lines.append(f"{'min t-DCF (2021)':<24}{_fmt(report['min_tdcf_2021'], '.6f')}")
    lines.append(f"{'ASV EER':<24}{_fmt(report.get('asv_eer_percent'), '.4f')} %")
    for key, label in (("min_dcf", "min DCF"), ("act_dcf", "actual DCF"), ("cllr_bits", "Cllr (bits)"),
                       ("min_cllr_bits", "min Cllr (bits)")):
        if key in report:
            lines.append(f"{label:<24}{_fmt(report[key], '.5f')}")
    per_attack = report.get("per_attack_eer_percent") or {}
    if per_attack:
        width = max(6, *(len(a) for a in per_attack))
        lines += ["", f"{'attack':<{width}}  {'EER (%)':>9}", f"{'-' * width}  {'-' * 9}"]
        lines += [f"{a:<{width}}  {v:>9.4f}" for a, v in per_attack.items()]
    return "\n".join(lines)
