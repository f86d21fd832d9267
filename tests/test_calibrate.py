"""Calibration and fusion (aasist.calibrate), min Cllr (aasist.metrics), `aasist calibrate`."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from aasist import metrics
from aasist.calibrate import (Calibration, Decision, apply_score_files, fit, fit_score_files,
                              join_score_files, training_llr_offset)
from aasist.errors import ConfigError, DataError
from conftest import DATA, run_cli

FIXTURES = DATA / "calibration"
SYSTEMS = [FIXTURES / f"rawgat_{v}.txt" for v in ("mul", "add", "cat")]


def _gaussian(n_bona=4000, n_spoof=12000, seed=0):
    """Scores whose true LLR is known: N(2, 1) bona fide, N(-1, 1) spoof -> LLR = 3 s - 1.5."""
    rng = np.random.default_rng(seed)
    return rng.normal(2, 1, n_bona), rng.normal(-1, 1, n_spoof)


@pytest.mark.parametrize("name", ["rawgat_mul", "rawgat_add", "rawgat_cat"])
def test_min_cllr_matches_a_reference_pav(name):
    expected = json.loads((FIXTURES / "expected.json").read_text())[name]
    _, _, keys, scores = join_score_files([FIXTURES / f"{name}.txt"])
    bona = np.array([k == "bonafide" for k in keys])
    got = metrics.min_cllr(scores[bona, 0], scores[~bona, 0])
    assert got == pytest.approx(expected["min_cllr_bits"], abs=1e-4)


def test_min_cllr_is_the_floor_of_every_monotonic_map():
    bona, spoof = _gaussian()
    floor = metrics.min_cllr(bona, spoof)
    for a, b in ((3, -1.5), (1, 0), (10, 4), (0.2, -3)):  # affine maps, the true LLR among them
        assert metrics.cllr(a * bona + b, a * spoof + b) >= floor - 1e-12
    assert metrics.min_cllr(np.exp(bona), np.exp(spoof)) == pytest.approx(floor)  # rank only
    # ties pool: trials with one score get one LLR, whatever their class
    pos, neg = metrics.pav_llrs([1.0, 2.0, 3.0, 3.0], [3.0, 0.0, 3.0, 0.5])
    # 0 and 0.5 hold spoofs only; 1, 2 (bona fide) and 3 (2 + 2) pool: 4 of 6 bona fide
    assert np.isneginf(neg[1]) and np.isneginf(neg[3])
    assert list(pos) + [neg[0], neg[2]] == pytest.approx([math.log(2)] * 6)


def test_fit_recovers_the_true_llr():
    bona, spoof = _gaussian(20000, 60000)
    scores = np.concatenate([bona, spoof])
    labels = np.concatenate([np.ones(bona.size, bool), np.zeros(spoof.size, bool)])
    for raw in (scores, 5 * scores + 20):  # the raw scale does not matter
        cal = fit(raw, labels, ["sys"])
        llr = cal.llr(raw)
        assert np.allclose(llr, 3 * scores - 1.5, atol=0.1 + 0.02 * np.abs(3 * scores - 1.5))
    assert cal.cllr_after < cal.cllr_before[0] and cal.counts == {"bonafide": 20000, "spoof": 60000}
    # the class counts are not a prior: weighting for 0.5 or 0.1 changes only what is optimised
    assert fit(scores, labels, ["s"], spoof_prior=0.9).weights[0] == pytest.approx(3, rel=0.1)


def test_calibration_on_public_scores_generalises_to_held_out_trials():
    """Fitted on half of a real score set, judged on the other half: the actual cost comes
    within 1.2x of the minimum and Cllr drops (RawGAT-ST cat's raw scores are off most)."""
    ids, _, keys, scores = join_score_files([SYSTEMS[2]])
    bona = np.array([k == "bonafide" for k in keys])
    half = np.arange(len(ids)) % 2 == 0
    cal = fit(scores[half], bona[half], ["cat"])
    test = ~half
    raw, llr = scores[test, 0], cal.llr(scores[test])
    b = bona[test]
    assert metrics.act_dcf(llr[b], llr[~b])[0] <= 1.2 * metrics.min_dcf(llr[b], llr[~b])
    assert metrics.cllr(llr[b], llr[~b]) < metrics.cllr(raw[b], raw[~b]) < 0.5


def test_fusion_joins_by_id_and_is_no_worse_than_the_best_system():
    cal = fit_score_files(SYSTEMS)
    assert cal.systems == ["rawgat_mul", "rawgat_add", "rawgat_cat"] and len(cal.weights) == 3
    singles = [fit_score_files([p]).cllr_after for p in SYSTEMS]
    assert cal.cllr_after <= min(singles) + 1e-9


def test_join_names_a_missing_or_extra_trial(tmp_path):
    lines = SYSTEMS[0].read_text().splitlines()
    (tmp_path / "short.txt").write_text("\n".join(lines[1:]) + "\n")
    with pytest.raises(DataError, match=rf"short.txt: trial {lines[0].split()[0]!r} .* is missing"):
        join_score_files([SYSTEMS[0], tmp_path / "short.txt"])
    (tmp_path / "extra.txt").write_text("\n".join(lines) + "\nX_1 A07 spoof 1.0\n")
    with pytest.raises(DataError, match=rf"extra.txt:{len(lines) + 1}: trial 'X_1' is not in"):
        join_score_files([SYSTEMS[0], tmp_path / "extra.txt"])
    flipped = lines[0].split()
    flipped[2] = "spoof" if flipped[2] == "bonafide" else "bonafide"
    flipped[1] = "A07" if flipped[2] == "spoof" else "-"
    (tmp_path / "flip.txt").write_text("\n".join([" ".join(flipped), *lines[1:]]) + "\n")
    with pytest.raises(DataError, match=r"flip.txt:1: trial .* says"):
        join_score_files([SYSTEMS[0], tmp_path / "flip.txt"])


def test_shuffled_files_fuse_to_the_same_llrs(tmp_path):
    lines = SYSTEMS[1].read_text().splitlines()
    rng = np.random.default_rng(0)
    (tmp_path / "shuffled.txt").write_text("\n".join(rng.permutation(lines)) + "\n")
    a = fit_score_files([SYSTEMS[0], SYSTEMS[1]])
    b = fit_score_files([SYSTEMS[0], tmp_path / "shuffled.txt"])
    assert a.weights == pytest.approx(b.weights) and a.bias == pytest.approx(b.bias)


def test_cli_fit_and_apply_round_trip(tmp_path, capsys):
    out = tmp_path / "cal.json"
    result = run_cli(capsys, "calibrate", "fit", *SYSTEMS, "--out", out)
    assert result.returncode == 0, result.stderr
    assert "3 system(s), 1500 bona fide and 4500 spoof" in result.stdout
    cal = Calibration.load(out)
    saved = json.loads(out.read_text())
    assert saved["format"] == "aasist-calibration" and saved["data"] == [str(p) for p in SYSTEMS]
    assert {"weights", "bias", "spoof_prior", "counts", "cllr_before", "cllr_after", "systems"} <= set(saved)
    result = run_cli(capsys, "calibrate", "apply", out, *SYSTEMS, "--out", tmp_path / "llr.txt")
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in (tmp_path / "llr.txt").read_text().splitlines()]
    first = [line.split() for line in SYSTEMS[0].read_text().splitlines()]
    assert [r[:3] for r in rows] == [r[:3] for r in first]  # same trials, sources, keys
    _, _, _, scores = join_score_files(SYSTEMS)
    assert np.allclose([float(r[3]) for r in rows], cal.llr(scores))
    # the written file is an official score file whose metrics show a calibrated system
    report = run_cli(capsys, "metrics", "--scores", tmp_path / "llr.txt", "--json", tmp_path / "m.json")
    assert report.returncode == 0, report.stderr
    metrics_ = json.loads((tmp_path / "m.json").read_text())
    assert metrics_["cllr_bits"] == pytest.approx(cal.cllr_after) and "min_cllr_bits" in metrics_


@pytest.mark.parametrize("args,message", [
    (["calibrate", "fit", "--out", "x.json"], "give score files"),
    (["calibrate", "fit", str(SYSTEMS[0]), "--prior", "1", "--out", "x.json"], "--prior"),
    (["calibrate", "apply", str(SYSTEMS[0]), str(SYSTEMS[0]), "--out", "x.txt"],
     "not a calibration file"),
])
def test_cli_errors_are_one_line(capsys, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = run_cli(capsys, *args)
    assert result.returncode == 1 and result.stderr.startswith("error:") and message in result.stderr
    assert result.stderr.count("\n") == 1


def test_apply_refuses_the_wrong_number_of_systems(tmp_path):
    cal = fit_score_files(SYSTEMS[:2])
    with pytest.raises(DataError, match="expects 2 score"):
        apply_score_files(cal, SYSTEMS, tmp_path / "x.txt")


def test_decisions_at_the_bayes_threshold_or_a_false_accept_rate():
    d = Decision()
    assert d.threshold == pytest.approx(-math.log(0.95 / 0.5))  # ASVspoof 5 costs: -0.642
    assert d.label(-0.6) == "bonafide" and d.label(-0.7) == "spoof"
    assert d.p_spoof(0.0) == pytest.approx(0.5)
    assert Decision(prior=0.9).p_spoof(0.0) == pytest.approx(0.9)  # LLR 0: the prior
    assert Decision(prior=0.5).p_spoof(math.log(3)) == pytest.approx(0.25)
    assert Decision(prior=0.5).p_spoof(1e6) == 0.0 and Decision().p_spoof(-1e6) == 1.0
    assert Decision(costs={"Pspoof": 0.5, "Cmiss": 1, "Cfa": 1}).threshold == pytest.approx(0)
    with pytest.raises(ConfigError, match="prior"):
        Decision(prior=0)
    cal = fit_score_files([SYSTEMS[0]])
    t = cal.threshold_at_fpr(0.01)
    _, _, keys, scores = join_score_files([SYSTEMS[0]])
    spoof = cal.llr(scores)[np.array([k == "spoof" for k in keys])]
    assert np.mean(spoof >= t) == pytest.approx(0.01, abs=0.002)


def test_training_offset_of_the_official_recipe():
    assert training_llr_offset([0.1, 0.9], 2580 / 25380) == pytest.approx(0.0192, abs=1e-3)
    assert training_llr_offset([0.3, 0.7], 0.3) == pytest.approx(0.0, abs=1e-12)


def test_a_damaged_calibration_file_is_named(tmp_path):
    bad = tmp_path / "cal.json"
    bad.write_text(json.dumps({"format": "aasist-calibration", "weights": ["x"], "bias": 0,
                               "systems": ["a"]}))
    with pytest.raises(DataError, match="cal.json: damaged calibration"):
        Calibration.load(bad)
    with pytest.raises(DataError, match="calibration file not found"):
        Calibration.load(tmp_path / "none.json")
