"""Metric reports from files (aasist.reports): official parity and file-level errors."""
from __future__ import annotations

import json

import pytest

from aasist.errors import DataError
from aasist.reports import score_report

from conftest import LA_EVAL_LIKE

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
