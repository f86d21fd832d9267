"""Metric reports from files (aasist.reports): official parity and file-level errors."""
from __future__ import annotations

import json

import pytest

from aasist.errors import ConfigError, DataError
from aasist.data.corpora import metrics_from_files
from aasist.data.corpora.la2019 import score_report

from conftest import DATA, LA_EVAL_LIKE

# ASV scores whose EER threshold is 2.0 (see tests/test_metrics.py).
ASV_TEXT = "".join(f"bonafide target {s}\n" for s in (2.0, 3.0, 4.0, 5.0)) \
    + "".join(f"bonafide nontarget {s}\n" for s in (-1.0, 0.0, 1.0, 2.5)) \
    + "".join(f"A07 spoof {s}\n" for s in (1.5, 2.5, 3.0, 0.0, 2.0))
CM_TEXT = ("u1 - bonafide 2.0\nu2 - bonafide 3.0\nu3 - bonafide 1.2\n"
           "u4 A10 spoof 0.0\nu5 A2 spoof 1.0\nu6 A1 spoof 2.5\nu7 - spoof -1\n")


def _write(tmp_path, text, name):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_score_report_matches_official_2019_code():
    expected = json.loads((LA_EVAL_LIKE / "expected.json").read_text())
    report = score_report(LA_EVAL_LIKE / "cm_scores.txt", LA_EVAL_LIKE / "asv_scores.txt")
    assert report["eer_percent"] == pytest.approx(expected["eer_percent"], abs=1e-6)
    assert report["min_tdcf"] == pytest.approx(expected["min_tdcf"], abs=1e-6)
    assert report["per_attack_eer_percent"] == pytest.approx(expected["per_attack_eer_percent"],
                                                             abs=1e-6)


def test_score_report_small_files(tmp_path):
    report = score_report(_write(tmp_path, CM_TEXT, "cm.txt"), _write(tmp_path, ASV_TEXT, "asv.txt"))
    assert (report["n_bonafide"], report["n_spoof"]) == (3, 4)
    assert list(report["per_attack_eer_percent"]) == ["A1", "A2", "A10"]
    assert report["asv_eer_percent"] == 25.0
    without = score_report(_write(tmp_path, CM_TEXT, "cm.txt"))
    assert without["min_tdcf"] is None and without["eer_percent"] == report["eer_percent"]


@pytest.mark.parametrize("cm_text,asv_text,match,culprit", [
    ("u1 - bonafide 1\nu2 - bonafide 2\nu3 - bonafide 3\n", ASV_TEXT, "no 'spoof' trials", "cm"),
    ("u1 A07 spoof 1\nu2 A07 spoof 2\n", ASV_TEXT, "no 'bonafide' trials", "cm"),
    ("u1 - bonafide 1\nu2 A07 spoof 0\nu3 A07 spoof 0\n", ASV_TEXT, "hard decisions", "cm"),
    (CM_TEXT, "bonafide target 1\nbonafide nontarget 0\nbonafide target 2\n", "no 'spoof' trials",
     "asv"),
    (CM_TEXT, "bonafide target 1\nbonafide nontarget 0\nA07 spoof 2\n", "hard decisions", "asv"),
    # the ASV rejects every spoof: the legacy t-DCF is undefined, which both files explain
    (CM_TEXT, ASV_TEXT.replace("A07 spoof 3.0", "A07 spoof -3.0").replace("A07 spoof 2.5", "A07 spoof -2.5")
     .replace("A07 spoof 2.0", "A07 spoof -2.0"), "undefined", "both"),
])
def test_file_level_errors_name_the_file(tmp_path, cm_text, asv_text, match, culprit):
    cm, asv = _write(tmp_path, cm_text, "cm.txt"), _write(tmp_path, asv_text, "asv.txt")
    with pytest.raises(DataError, match=match) as info:
        score_report(cm, asv)
    message = str(info.value)
    if culprit in ("cm", "both"):
        assert message.startswith(str(cm))
    if culprit in ("asv", "both"):
        assert str(asv) in message


# --------------------------------------------------------------------------- other corpora:
# parity with the official packages on generated score sets (ties, bad calibration);
# tests/data/README.md says how the expected values were computed.

M21, M5 = DATA / "metrics_2021", DATA / "metrics_asvspoof5"


def _same(got, expected, path=""):
    """Every number of ``expected`` (nested dicts; None for the official NaN) within 1e-6."""
    if isinstance(expected, dict):
        for key, value in expected.items():
            if not key.startswith("_") and key != "subset":
                _same(got[key], value, f"{path}/{key}")
    elif expected is None:
        assert got is None, path
    else:
        assert got == pytest.approx(expected, abs=1e-6), path


def _check_tables(report, expected, row_key, tdcf):
    _same(report["eer_percent_table"], expected["eer_percent_table"])
    table = expected["eer_percent_table"]
    assert report["eer_percent"] == pytest.approx(table["pooled"]["pooled"], abs=1e-6)
    _same(report["eer_percent_by_codec"], {c: v for c, v in table["pooled"].items() if c != "pooled"})
    _same(report[f"eer_percent_by_{row_key}"], {r: v["pooled"] for r, v in table.items() if r != "pooled"})
    if tdcf:
        _same(report["min_tdcf_table"], expected["min_tdcf_table"])
        assert report["min_tdcf"] == pytest.approx(expected["min_tdcf_table"]["pooled"]["pooled"], abs=1e-6)


@pytest.mark.parametrize("subset", ["eval", "progress"])
def test_la2021_matches_the_official_2021_package(subset):
    expected = json.loads((M21 / f"expected_la_{subset}.json").read_text())
    report = metrics_from_files("la2021", M21 / "la_scores.txt", M21 / "keys", subset=subset)
    assert report["subset"] == subset
    _check_tables(report, expected, "attack", tdcf=True)
    # conditions without ASV spoof trials are NaN there and None here (compared above)
    assert None in [v for row in expected["min_tdcf_table"].values() for v in row.values()]


def test_df2021_matches_the_official_2021_package():
    expected = json.loads((M21 / "expected_df_eval.json").read_text())
    keys = M21 / "keys" / "DF" / "CM" / "trial_metadata.txt"  # the file itself works too
    report = metrics_from_files("df2021", M21 / "df_scores.txt", keys)
    _check_tables(report, expected, "vocoder", tdcf=False)
    assert set(report["eer_percent_by_codec"]) == {f"C{i}" for i in range(1, 10)}
    assert report["min_tdcf"] is None and "min_tdcf_table" not in report


@pytest.mark.parametrize("keys", ["ASVspoof5.eval.track_1.tsv", "keys.tsv"])
def test_asvspoof5_matches_the_official_package(keys):
    expected = json.loads((M5 / "expected.json").read_text())
    report = metrics_from_files("asvspoof5", M5 / "scores.tsv", M5 / keys)
    for name in ("min_dcf", "act_dcf", "cllr_bits", "eer_percent"):
        assert report[name] == pytest.approx(expected[name], abs=1e-6), name
        if keys == "keys.tsv":  # the 2-column key names no attacks or codecs
            assert report[f"{name}_by_attack"] == {} == report[f"{name}_by_codec"]
        else:
            _same(report[f"{name}_by_attack"], expected[f"{name}_by_attack"])
            _same(report[f"{name}_by_codec"], expected[f"{name}_by_codec"])
    # badly calibrated on purpose: the actual cost is above the minimum one
    assert report["act_dcf"] > report["min_dcf"]


def test_la2021_without_asv_files_has_no_tdcf(tmp_path):
    keys = tmp_path / "LA" / "CM" / "trial_metadata.txt"
    keys.parent.mkdir(parents=True)
    keys.write_text((M21 / "keys/LA/CM/trial_metadata.txt").read_text())
    report = metrics_from_files("la2021", M21 / "la_scores.txt", keys)
    assert report["min_tdcf"] is None and "min_tdcf_by_attack" not in report
    expected = json.loads((M21 / "expected_la_eval.json").read_text())
    _same(report["eer_percent_table"], expected["eer_percent_table"])


def test_itw_pooled_eer(tmp_path):
    meta = _write(tmp_path, "file,speaker,label\n0.wav,A,spoof\n1.wav,B,bona-fide\n"
                            "2.wav,C,spoof\n3.wav,D,bona-fide\n", "meta.csv")
    scores = _write(tmp_path, "0 -1.0\n1 2.0\n2 2.5\n3 3.0\n", "scores.txt")
    report = metrics_from_files("itw", scores, meta)
    # sorted -1 s, 2 b, 2.5 s, 3 b -> frr 0 0 1/2 1/2 1, far 1 1/2 1/2 0 0 -> EER 50 %
    assert report["eer_percent"] == pytest.approx(50.0)
    assert (report["n_bonafide"], report["n_spoof"], report["min_tdcf"]) == (2, 2, None)


@pytest.mark.parametrize("corpus,scores,keys,match", [
    ("df2021", "DF_E_2000000 0.5\n", "df", r"keys/DF/CM/trial_metadata.txt:\d+: trial 'DF_E_2000001' "
     r"has no score in .*scores.txt; score every trial"),
    ("df2021", "DF_E_9 0.5\n", "df", r"scores.txt:1: trial 'DF_E_9' is not in the keys"),
    ("df2021", "DF_E_2000000 x\n", "df", r"scores.txt:1: score 'x' is not a number"),
    ("df2021", "DF_E_2000000 1 2\n", "df", r"scores.txt:1: expected 2 columns"),
    ("df2021", "DF_E_2000000 1\nDF_E_2000000 2\n", "df", r"scores.txt:2: trial 'DF_E_2000000' repeats line 1"),
    ("asvspoof5", "E_0000000000\t0.5\n", "asv5", r"scores.txt:1: .*not the header"),
    ("itw", "0 1.0\n", "nowhere", r"In-the-Wild keys not found"),
])
def test_file_errors_name_file_line_and_fix(tmp_path, corpus, scores, keys, match):
    keys = {"df": M21 / "keys", "asv5": M5 / "keys.tsv", "nowhere": tmp_path / "none"}[keys]
    with pytest.raises(DataError, match=match):
        metrics_from_files(corpus, _write(tmp_path, scores, "scores.txt"), keys)


def test_bad_subset_and_missing_keys_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="--corpus df2021 needs --keys"):
        metrics_from_files("df2021", M21 / "df_scores.txt")
    with pytest.raises(ConfigError, match="unknown ASVspoof 2021 subset 'dev'"):
        metrics_from_files("df2021", M21 / "df_scores.txt", M21 / "keys", subset="dev")
