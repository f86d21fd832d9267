"""Tests for aasist.metrics: official-code parity, hand-computed cases, input errors."""
from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from aasist import metrics as m
from aasist.data.scores import read_asv_scores, read_cm_scores

from conftest import LA_EVAL_LIKE as REFERENCE


# --------------------------------------------------------------------------- reference parity

@pytest.fixture(scope="module")
def reference():
    expected = json.loads((REFERENCE / "expected.json").read_text())
    cm = read_cm_scores(REFERENCE / "cm_scores.txt")
    asv = read_asv_scores(REFERENCE / "asv_scores.txt")
    report = m.report_from_arrays(cm.bona, cm.spoof, cm.spoof_sources,
                                  asv.target, asv.nontarget, asv.spoof)
    return expected, report, cm


def test_reference_pooled_metrics_match_official(reference):
    expected, report, _ = reference
    assert report["eer_percent"] == pytest.approx(expected["eer_percent"], abs=1e-6)
    assert report["min_tdcf"] == pytest.approx(expected["min_tdcf"], abs=1e-6)
    assert report["asv_eer_percent"] == pytest.approx(expected["asv_eer_percent"], abs=1e-6)


def test_reference_per_attack_eer_match_official(reference):
    expected, report, _ = reference
    got = report["per_attack_eer_percent"]
    assert list(got) == sorted(expected["per_attack_eer_percent"])
    for attack, value in expected["per_attack_eer_percent"].items():
        assert got[attack] == pytest.approx(value, abs=1e-6), attack


def test_reference_report_shape(reference):
    _, report, cm = reference
    assert report["n_bonafide"] == int(cm.is_bonafide.sum()) == 700
    assert report["n_spoof"] == len(cm.scores) - 700 == 6500
    # the revised t-DCF, as the official ASVspoof 2021 evaluation package computes it
    expected_2021 = json.loads((REFERENCE / "expected_2021.json").read_text())
    assert report["min_tdcf_2021"] == pytest.approx(expected_2021["min_tdcf_2021"], abs=1e-9)
    json.dumps(report)  # the CLI writes it as JSON
    text = m.format_report(report)
    assert "A07" in text and "A19" in text and "min t-DCF" in text


# --------------------------------------------------------------------------- DET and EER

def test_det_curve_known_points():
    # sorted: 0.1 s, 0.2 b, 0.4 s, 0.5 s, 0.6 b, 0.9 b
    frr, far, thr = m.compute_det_curve([0.2, 0.6, 0.9], [0.1, 0.4, 0.5])
    np.testing.assert_allclose(frr, [0, 0, 1 / 3, 1 / 3, 1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(far, [1, 2 / 3, 2 / 3, 1 / 3, 0, 0, 0])
    np.testing.assert_allclose(thr, [0.1 - 0.001, 0.1, 0.2, 0.4, 0.5, 0.6, 0.9])
    assert frr.dtype == far.dtype == thr.dtype == np.float64
    eer, threshold = m.compute_eer([0.2, 0.6, 0.9], [0.1, 0.4, 0.5])
    assert eer == pytest.approx(1 / 3) and threshold == 0.4


def test_perfect_separation_gives_zero_eer():
    eer, threshold = m.compute_eer([2.0, 3.0], [0.0, 1.0])
    assert eer == 0.0 and threshold == 1.0  # the highest spoof score


def test_reversed_scores_give_eer_one():
    eer, _ = m.compute_eer([0.0, 1.0], [2.0, 3.0])
    assert eer == 1.0


def test_symmetric_interleaving_gives_half():
    # sorted: b s s b b s s b -> frr and far cross at exactly 0.5
    eer, threshold = m.compute_eer([1, 4, 5, 8], [2, 3, 6, 7])
    assert eer == 0.5 and threshold == 4


def test_fully_overlapping_distributions_give_half():
    rng = np.random.default_rng(0)
    eer, _ = m.compute_eer(rng.normal(size=20000), rng.normal(size=20000))
    assert eer == pytest.approx(0.5, abs=0.01)


def test_ties_reject_bona_fide_first_like_official_mergesort():
    # Identical scores: at each tie the bona fide trial is counted as rejected first,
    # so the EER is 2/3, not 1/2 (the official code's behaviour, kept on purpose).
    frr, far, _ = m.compute_det_curve([1, 2, 3], [1, 2, 3])
    np.testing.assert_allclose(frr, [0, 1 / 3, 1 / 3, 2 / 3, 2 / 3, 1, 1])
    np.testing.assert_allclose(far, [1, 1, 2 / 3, 2 / 3, 1 / 3, 1 / 3, 0])
    assert m.compute_eer([1, 2, 3], [1, 2, 3])[0] == pytest.approx(2 / 3)


def test_det_curve_matches_brute_force_threshold_sweep():
    rng = np.random.default_rng(1)
    bona, spoof = rng.normal(1, 1, 23), rng.normal(0, 1, 17)  # distinct scores
    frr, far, thr = m.compute_det_curve(bona, spoof)
    for k in range(1, len(thr)):  # point k: reject if score <= thr[k]
        assert frr[k] == pytest.approx(sum(b <= thr[k] for b in bona) / len(bona))
        assert far[k] == pytest.approx(sum(s > thr[k] for s in spoof) / len(spoof))
    assert (frr[0], far[0]) == (0.0, 1.0)
    assert np.all(np.diff(frr) >= 0) and np.all(np.diff(far) <= 0)


def test_eer_accepts_lists_ints_and_float32():
    a = m.compute_eer(np.array([3, 4, 5], dtype=np.float32), np.array([1, 2], dtype=np.float32))
    b = m.compute_eer([3, 4, 5], [1, 2])
    assert a == b == (0.0, 2.0)


# --------------------------------------------------------------------------- input errors

NAN_CASES = [
    ([1.0, math.nan, 2.0], [0.0, 0.5]),
    ([1.0, 2.0], [0.0, math.inf, 0.5]),
    ([1.0, -math.inf, 2.0], [0.0, 0.5]),
]
EMPTY_CASES = [([], [0.0, 1.0, 2.0]), ([0.0, 1.0, 2.0], [])]
HARD_CASES = [([1, 1, 1], [0, 0]), ([1, 1], [1, 1]), ([1.0, 0.0], [0.0])]
ASV_OK = ([3.0, 4.0, 5.0], [0.0, 1.0, 2.5], [2.0, 3.5])


@pytest.mark.parametrize("func", ["det", "eer", "tdcf2019", "tdcf2021"])
@pytest.mark.parametrize("bona,spoof,match", [
    *[(b, s, "NaN or infinite") for b, s in NAN_CASES],
    *[(b, s, "empty") for b, s in EMPTY_CASES],
    *[(b, s, "hard decisions") for b, s in HARD_CASES],
    ([[1.0, 2.0], [3.0, 4.0]], [0.0], "1-D"),
    (["a", "b", "c"], [0.0], "must be numbers"),
])
def test_bad_cm_scores_raise_value_error(func, bona, spoof, match):
    call = {
        "det": lambda: m.compute_det_curve(bona, spoof),
        "eer": lambda: m.compute_eer(bona, spoof),
        "tdcf2019": lambda: m.min_tdcf_2019(bona, spoof, *ASV_OK),
        "tdcf2021": lambda: m.min_tdcf_2021(bona, spoof, *ASV_OK),
    }[func]
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("func", [m.min_tdcf_2019, m.min_tdcf_2021])
@pytest.mark.parametrize("asv,match", [
    (([3.0, math.nan], [0.0, 1.0], [2.0]), "ASV target scores.*NaN"),
    (([3.0, 4.0], [0.0, math.inf], [2.0]), "ASV nontarget scores.*NaN"),
    (([3.0, 4.0], [0.0, 1.0], [math.nan]), "ASV spoof scores.*NaN"),
    (([], [0.0, 1.0], [2.0]), "ASV target scores.*empty"),
    (([3.0, 4.0], [0.0, 1.0], []), "ASV spoof scores.*empty"),
    (([1.0, 1.0], [0.0], [2.0]), "hard decisions"),
])
def test_bad_asv_scores_raise_value_error(func, asv, match):
    with pytest.raises(ValueError, match=match):
        func([1.0, 2.0, 3.0], [0.0, 0.5], *asv)


@pytest.mark.parametrize("func,cost_model,match", [
    (m.min_tdcf_2019, {"Cfa_spoof": 10}, "unknown cost model key"),
    (m.min_tdcf_2021, {"Cmiss_cm": 1}, "unknown cost model key"),
    (m.min_tdcf_2019, {"Ptar": 0.5}, "sum to 1"),
    (m.min_tdcf_2021, {"Pspoof": 0.1}, "sum to 1"),
    (m.min_tdcf_2019, {"Cfa_cm": -1}, ">= 0"),
    (m.min_tdcf_2021, {"Cmiss": math.nan}, ">= 0"),
])
def test_bad_cost_model_raises(func, cost_model, match):
    with pytest.raises(ValueError, match=match):
        func([1.0, 2.0, 3.0], [0.0, 0.5], *ASV_OK, cost_model=cost_model)


def test_official_2019_cost_dict_is_accepted_unchanged():
    official = dict(m.COST_MODEL_2019, Cmiss=1, Cfa=10)  # the official dict's unused extras
    a = m.min_tdcf_2019([1.0, 2.0, 3.0], [0.0, 0.5], *ASV_OK, cost_model=official)[0]
    b = m.min_tdcf_2019([1.0, 2.0, 3.0], [0.0, 0.5], *ASV_OK)[0]
    assert a == b


def test_legacy_tdcf_undefined_when_asv_rejects_every_spoof():
    # ASV threshold 3.0 (its EER point); spoofs all below -> C2 = 0 -> legacy norm is 0.
    with pytest.raises(ValueError, match="undefined"):
        m.min_tdcf_2019([1.0, 2.0, 3.0], [0.0, 0.5], [3.0, 4.0, 5.0], [0.0, 1.0, 2.0], [-5.0])
    # ... while the revised t-DCF stays defined (its normaliser keeps the ASV's own cost);
    # with no spoof getting past the ASV a CM cannot help, so the best CM accepts all: 1.0.
    value, _, _ = m.min_tdcf_2021([1.0, 2.0, 3.0], [0.0, 0.5], [3.0, 4.0, 5.0],
                                  [0.0, 1.0, 2.0], [-5.0])
    assert value == pytest.approx(1.0)


# --------------------------------------------------------------------------- t-DCF

# ASV scores whose EER operating point is easy to check by hand:
# sorted -1n 0n 1n 2t 2.5n 3t 4t 5t -> EER point 4, threshold 2.0;
# accept if >= 2.0: Pmiss = 0/4, Pfa = 1/4 (2.5), spoofs accepted = 3/5 (2.0, 2.5, 3.0).
ASV_TAR = [2.0, 3.0, 4.0, 5.0]
ASV_NON = [-1.0, 0.0, 1.0, 2.5]
ASV_SPOOF = [1.5, 2.5, 3.0, 0.0, 2.0]


def test_asv_operating_point_by_hand():
    eer, threshold = m.compute_eer(ASV_TAR, ASV_NON)
    assert (eer, threshold) == (0.25, 2.0)
    assert m.asv_error_rates(ASV_TAR, ASV_NON, ASV_SPOOF, threshold) == (0.25, 0.0, 0.6)


def test_legacy_tdcf_curve_end_points_by_hand():
    # Pmiss_asv 0, Pfa_asv 0.25, Pmiss_spoof_asv 0.4:
    # C1 = 0.9405 * (1 - 0) - 0.0095 * 10 * 0.25 = 0.91675, C2 = 10 * 0.05 * 0.6 = 0.3
    curve, thr = m.tdcf_curve_2019([1.0, 2.0, 3.0], [0.0, 0.5], 0.25, 0.0, 0.4)
    assert curve[0] == pytest.approx(0.3 / 0.3)        # accept all: Pfa_cm = 1
    assert curve[-1] == pytest.approx(0.91675 / 0.3)   # reject all: Pmiss_cm = 1
    assert curve.min() == pytest.approx(0.0)           # perfectly separated CM
    assert curve.shape == thr.shape == (6,)


def _brute_force_min_tdcf_2021(bona, spoof, tar, non, spf, asv_threshold):
    """min t-DCF from the tandem definition (TASLP 2020), averaging over CM x ASV trial pairs.

    The CM and the ASV are independent; the CM sees a target and a nontarget as bona fide.
    Tandem errors: a target is missed if either system rejects it; a nontarget or a spoof
    is falsely accepted if both systems accept it. Cost = Cmiss Ptar P(miss target) +
    Cfa Pnon P(accept nontarget) + Cfa_spoof Pspoof P(accept spoof), normalised by the
    cheaper of the two trivial CMs (accept everything, reject everything).
    """
    c = m.COST_MODEL_2021
    asv_acc = lambda x: x >= asv_threshold

    def cost(cm_threshold):
        cm_acc = lambda x: x > cm_threshold  # reject if score <= threshold
        p_miss = np.mean([not (cm_acc(b) and asv_acc(t)) for b, t in itertools.product(bona, tar)])
        p_fa_non = np.mean([cm_acc(b) and asv_acc(n) for b, n in itertools.product(bona, non)])
        p_fa_spf = np.mean([cm_acc(s) and asv_acc(a) for s, a in itertools.product(spoof, spf)])
        return (c["Cmiss"] * c["Ptar"] * p_miss + c["Cfa"] * c["Pnon"] * p_fa_non
                + c["Cfa_spoof"] * c["Pspoof"] * p_fa_spf)

    default = min(cost(-math.inf), cost(math.inf))
    candidates = [-math.inf, *sorted(set(bona) | set(spoof))]
    return min(cost(t) for t in candidates) / default


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tdcf_2021_matches_brute_force_tandem_definition(seed):
    rng = np.random.default_rng(seed)
    bona = list(rng.normal(1.0, 1.0, 9))
    spoof = list(rng.normal(0.0, 1.0, 11))
    expected = _brute_force_min_tdcf_2021(bona, spoof, ASV_TAR, ASV_NON, ASV_SPOOF, 2.0)
    got, curve, thresholds = m.min_tdcf_2021(bona, spoof, ASV_TAR, ASV_NON, ASV_SPOOF)
    assert got == pytest.approx(expected, rel=1e-12)
    assert curve.shape == thresholds.shape == (len(bona) + len(spoof) + 1,)
    assert got <= 1.0 + 1e-12  # never worse than the better trivial CM


def test_tdcf_2021_default_cost_model_values():
    cm = m.COST_MODEL_2021
    assert (cm["Pspoof"], cm["Cmiss"], cm["Cfa"], cm["Cfa_spoof"]) == (0.05, 1, 10, 10)
    assert cm["Ptar"] == pytest.approx(0.9405) and cm["Pnon"] == pytest.approx(0.0095)
    assert m.COST_MODEL_2019["Ptar"] == pytest.approx(0.9405)


# --------------------------------------------------------------------------- reports

def test_report_from_arrays_argument_errors():
    with pytest.raises(ValueError, match="one attack id per spoof trial"):
        m.report_from_arrays([1.0, 2.0], [0.0, 0.5], ["A07"])
    with pytest.raises(ValueError, match="all of asv_target"):
        m.report_from_arrays([1.0, 2.0], [0.0, 0.5], None, asv_target=[1.0, 2.0])


def test_report_from_arrays_small_case_by_hand():
    bona, spoof = [2.0, 3.0, 1.2], [0.0, 1.0, 2.5, -1.0]
    report = m.report_from_arrays(bona, spoof, ["A10", "A2", "A1", "-"],
                                  ASV_TAR, ASV_NON, ASV_SPOOF)
    assert (report["n_bonafide"], report["n_spoof"]) == (3, 4)
    # attacks sorted naturally; the spoof with unknown attack ('-') counts only in the pool
    assert list(report["per_attack_eer_percent"]) == ["A1", "A2", "A10"]
    assert report["per_attack_eer_percent"]["A10"] == 0.0
    # A1: sorted 1.2b 2.0b 2.5s 3.0b -> frr 0 1/3 2/3 2/3 1, far 1 1 1 0 0 -> (2/3 + 1) / 2
    assert report["per_attack_eer_percent"]["A1"] == pytest.approx(250 / 3)
    assert report["asv_eer_percent"] == 25.0
    assert report["eer_percent"] == pytest.approx(100 * m.compute_eer(bona, spoof)[0])
    without_asv = m.report_from_arrays(bona, spoof)
    assert without_asv["min_tdcf"] is None and without_asv["asv_eer_percent"] is None
    assert without_asv["per_attack_eer_percent"] == {}
    assert "n/a" in m.format_report(without_asv)


def test_natural_key_orders_ids_by_number():
    assert sorted(["A10", "A2", "A1", "C9", "C10"], key=m.natural_key) == \
        ["A1", "A2", "A10", "C9", "C10"]


def test_format_report_lists_every_attack():
    report = m.report_from_arrays([1.0, 2.0, 3.0], [0.0, 1.5, 2.5], ["A07", "A08", "A07"],
                                  ASV_TAR, ASV_NON, ASV_SPOOF)
    text = m.format_report(report)
    assert text.splitlines()[-1].startswith("A08") and "A07" in text
    assert f"{report['eer_percent']:.4f}" in text


# --------------------------------------------------------------------------- DCF, Cllr

def test_min_dcf_by_hand():
    # sorted: 0.1 s, 0.2 b, 0.4 s, 0.5 s, 0.6 b, 0.9 b; DET points (frr, far):
    # (0,1) (0,2/3) (1/3,2/3) (1/3,1/3) (1/3,0) (2/3,0) (1,0)
    # cost = 0.95 frr + 0.5 far, normalised by min(0.95, 0.5) = 0.5 -> min at (1/3, 0)
    assert m.min_dcf([0.2, 0.6, 0.9], [0.1, 0.4, 0.5]) == pytest.approx(0.95 / 3 / 0.5)
    assert m.min_dcf([2.0, 3.0], [0.0, 1.0]) == 0.0  # separable
    assert m.min_dcf([0.0, 1.0], [2.0, 3.0]) == pytest.approx(1.0)  # reversed: accept all


def test_act_dcf_uses_the_bayes_threshold_on_llrs():
    # beta = 0.95 / 0.5 = 1.9, threshold -log(1.9) = -0.6419: miss if bona < t, fa if spoof >= t
    value, threshold = m.act_dcf([-1.0, 0.0, 2.0, 3.0], [-3.0, -0.5, 1.0])
    assert threshold == pytest.approx(-np.log(1.9))
    assert value == pytest.approx((0.95 * 1 / 4 + 0.5 * 2 / 3) / 0.5)
    # a calibrated shift does not change min DCF, a miscalibrated one changes act DCF
    bona, spoof = np.array([1.0, 2.0, 3.0]), np.array([-2.0, -1.0, 0.5])
    assert m.min_dcf(bona + 10, spoof + 10) == m.min_dcf(bona, spoof)
    assert m.act_dcf(bona + 10, spoof + 10)[0] > m.act_dcf(bona, spoof)[0]


def test_cllr_by_hand_and_far_beyond_the_official_overflow():
    # LLRs of (almost) 0 everywhere: "no idea", 1 bit
    assert m.cllr([0.0, 0.0, 1e-9], [-1e-9, 0.0]) == pytest.approx(1.0)
    # symmetric: each class pays log2(1 + e^-1) and log2(1 + e^-2) once
    expected = (np.log2(1 + np.exp(-1)) + np.log2(1 + np.exp(-2))) / 2
    assert m.cllr([1.0, 2.0], [-1.0, -2.0]) == pytest.approx(expected)
    assert np.isfinite(m.cllr([1000.0, 2.0, 3.0], [-1000.0, 1.0]))


@pytest.mark.parametrize("func", [m.min_dcf, m.act_dcf, m.cllr])
def test_dcf_metrics_check_their_input(func):
    with pytest.raises(ValueError, match="NaN or infinite"):
        func([1.0, math.nan, 2.0], [0.0, 0.5])
    with pytest.raises(ValueError, match="hard decisions"):
        func([1.0, 1.0], [0.0])


def test_dcf_cost_model_is_checked():
    # DET points (frr, far): (0,1) (0,1/2) (1/3,1/2) (1/3,0) (2/3,0) (1,0)
    # default: (0.95 frr + 0.5 far) / 0.5 -> (0, 1/2): 0.5; Pspoof 0.5: (0.5 frr + 5 far) / 0.5
    # -> (1/3, 0): 1/3
    assert m.min_dcf([1.0, 2.0, 3.0], [0.0, 1.5]) == pytest.approx(0.5)
    assert m.min_dcf([1.0, 2.0, 3.0], [0.0, 1.5], {"Pspoof": 0.5}) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="unknown cost model key"):
        m.min_dcf([1.0, 2.0, 3.0], [0.0, 1.5], {"Ptar": 0.5})
    with pytest.raises(ValueError, match="0 < Pspoof < 1"):
        m.act_dcf([1.0, 2.0, 3.0], [0.0, 1.5], {"Pspoof": 1.0})
