"""Score files (aasist.data.scores) and the line reader they share with the protocols."""
from __future__ import annotations

import numpy as np
import pytest

from aasist.data.protocols import CmRecord
from aasist.data.scores import (read_2021_asv_scores, read_asv_scores, read_asvspoof5_scores,
                                read_cm_scores, read_trial_scores, write_cm_scores)
from aasist.data.corpora import get_corpus
from aasist.errors import DataError


def _write(tmp_path, text, name="scores.txt"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_read_cm_scores_parses_columns(tmp_path):
    path = _write(tmp_path, "# comment\nLA_E_1 - bonafide 1.5\n\nLA_E_A8093886 A07 spoof -0.25\n"
                            "LA_E_3 bonafide bonafide 2\n")
    cm = read_cm_scores(path)
    assert cm.utt_ids == ["LA_E_1", "LA_E_A8093886", "LA_E_3"]
    assert cm.sources == ["-", "A07", "bonafide"]
    assert cm.keys == ["bonafide", "spoof", "bonafide"]
    assert cm.scores.dtype == np.float64
    np.testing.assert_array_equal(cm.bona, [1.5, 2.0])
    np.testing.assert_array_equal(cm.spoof, [-0.25])
    assert cm.spoof_sources == ["A07"] and cm.path == str(path)


def test_read_asv_scores_parses_columns(tmp_path):
    path = _write(tmp_path, "bonafide target 2.5\nbonafide nontarget -1\nA07 spoof 0.4\n")
    asv = read_asv_scores(path)
    assert (list(asv.target), list(asv.nontarget), list(asv.spoof)) == ([2.5], [-1.0], [0.4])
    assert asv.sources == ["bonafide", "bonafide", "A07"]


@pytest.mark.parametrize("text,line,what", [
    ("", 1, "no scores"),
    ("\n# only a comment\n\n", 1, "no scores"),
    ("LA_E_1 - bonafide 1.0\nLA_E_2 A07 spoof\n", 2, "expected 4 columns"),
    ("LA_E_1 - bonafide 1.0 extra\n", 1, "expected 4 columns"),
    ("bonafide target 1.0\n", 1, "looks like an ASV score file"),
    ("LA_E_1 - bonafide 1.0\nLA_E_2 A07 spoof abc\n", 2, "is not a number"),
    ("LA_E_1 - bonafide nan\n", 1, "not finite"),
    ("LA_E_1 - bonafide 1\nLA_E_2 A07 spoof -inf\n", 2, "not finite"),
    ("LA_E_1 - bonafide 1\nLA_E_2 A07 spoof 0\nLA_E_1 A08 spoof 0.5\n", 3,
     "'LA_E_1' repeats line 1"),
    ("LA_E_1 - bona-fide 1\n", 1, "unknown key 'bona-fide'.*bonafide, spoof"),
    ("LA_E_1 A07 bonafide 1\n", 1, "bona fide trial has attack id 'A07'"),
])
def test_malformed_cm_file_errors_name_file_and_line(tmp_path, text, line, what):
    path = _write(tmp_path, text)
    with pytest.raises(DataError, match=what) as info:
        read_cm_scores(path)
    assert str(info.value).startswith(f"{path}:{line}: ")
    assert "; " in str(info.value)  # what is wrong; how to fix it


@pytest.mark.parametrize("text,line,what", [
    ("", 1, "no scores"),
    ("bonafide target 1.0\nA07 spoof\n", 2, "expected 3 columns"),
    ("LA_E_1 - bonafide 1.0\n", 1, "looks like a CM score file"),
    ("bonafide target x1\n", 1, "is not a number"),
    ("bonafide target inf\n", 1, "not finite"),
    ("bonafide tar 1.0\n", 1, "unknown key 'tar'.*target, nontarget, spoof"),
])
def test_malformed_asv_file_errors_name_file_and_line(tmp_path, text, line, what):
    path = _write(tmp_path, text)
    with pytest.raises(DataError, match=what) as info:
        read_asv_scores(path)
    assert str(info.value).startswith(f"{path}:{line}: ")


def test_non_utf8_file_names_the_line(tmp_path):
    path = tmp_path / "binary.txt"
    path.write_bytes(b"LA_E_1 - bonafide 1.0\n\xff\xfe\x00garbage\n")
    with pytest.raises(DataError, match=rf"{path}:2: not UTF-8 text"):
        read_cm_scores(path)


@pytest.mark.parametrize("make", ["missing", "folder"])
def test_missing_file_or_folder_is_a_data_error(tmp_path, make):
    path = tmp_path / "scores.txt"
    if make == "folder":
        path.mkdir()
    with pytest.raises(DataError, match=f"CM score file not found: {path}"):
        read_cm_scores(path)


def test_write_cm_scores_official_columns_round_trip(tmp_path):
    records = [CmRecord("S", "LA_E_A8093886", "-", "bonafide"), CmRecord("S", "LA_E_1", "A07", "spoof")]
    path = tmp_path / "out" / "s.txt"
    write_cm_scores(path, records, np.array([1.5, -2.25]))
    assert path.read_text() == "LA_E_A8093886 - bonafide 1.5\nLA_E_1 A07 spoof -2.25\n"
    assert read_cm_scores(path).utt_ids == ["LA_E_A8093886", "LA_E_1"]
    assert [p.name for p in path.parent.iterdir()] == ["s.txt"]  # no temporary file left


# --------------------------------------------------------------------------- other corpora


def test_trial_scores_round_trip_and_asvspoof5_header(tmp_path):
    records = [CmRecord("S", "DF_E_1", "A07", "spoof"), CmRecord("S", "DF_E_2", "-", "bonafide")]
    get_corpus("itw").write_scores(tmp_path / "s.txt", records, np.array([0.5, -1.25]))
    assert (tmp_path / "s.txt").read_text() == "DF_E_1 0.5\nDF_E_2 -1.25\n"
    got = read_trial_scores(tmp_path / "s.txt")
    assert got.scores == {"DF_E_1": 0.5, "DF_E_2": -1.25} and got.lines == {"DF_E_1": 1, "DF_E_2": 2}
    get_corpus("asvspoof5").write_scores(tmp_path / "s.tsv", records, np.array([0.5, -1.25]))
    assert (tmp_path / "s.tsv").read_text() == "filename\tcm-score\nDF_E_1\t0.5\nDF_E_2\t-1.25\n"
    assert read_asvspoof5_scores(tmp_path / "s.tsv").scores == got.scores
    get_corpus("la2019").write_scores(tmp_path / "s4.txt", records, np.array([0.5, -1.25]))
    assert read_cm_scores(tmp_path / "s4.txt").utt_ids == ["DF_E_1", "DF_E_2"]


@pytest.mark.parametrize("reader,text,line,what", [
    (read_trial_scores, "T1 0.5\nT2\n", 2, "expected 2 columns 'trial score', found 1"),
    (read_trial_scores, "T1 0.5\nT1 0.7\n", 2, "trial 'T1' repeats line 1"),
    (read_trial_scores, "T1 high\n", 1, "score 'high' is not a number"),
    (read_trial_scores, "", 1, "no scores"),
    (read_asvspoof5_scores, "E_1\t0.5\n", 1, "not the header 'filename cm-score'"),
    (read_asvspoof5_scores, "filename\tcm-score\nE_1\t0.5\tx\n", 2, "expected 2 columns"),
    (read_asvspoof5_scores, "filename\tcm-score\n", 1, "no scores"),
])
def test_malformed_trial_score_files(tmp_path, reader, text, line, what):
    path = _write(tmp_path, text)
    with pytest.raises(DataError, match=what) as info:
        reader(path)
    assert str(info.value).startswith(f"{path}:{line}: ")


def test_2021_asv_scores(tmp_path):
    path = _write(tmp_path, "LA_0015 LA_E_1 1.5\nLA_0015 LA_E_1 -2\n")
    assert read_2021_asv_scores(path) == [("LA_E_1", 1.5, 1), ("LA_E_1", -2.0, 2)]
    with pytest.raises(DataError, match=r":1: expected 3 columns 'claimed_speaker trial score'"):
        read_2021_asv_scores(_write(tmp_path, "LA_E_1 1.5\n"))
