"""Protocol, score and metadata readers (aasist.data.protocols)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from aasist.data.protocols import (AsvRecord, CmRecord, la_paths, read_2021_asv_metadata,
                                   read_2021_metadata, read_asvspoof5_protocol,
                                   read_cm_protocol, read_in_the_wild)
from aasist.data.scores import read_asv_records as read_asv_scores
from aasist.data.scores import read_asv_scores as read_asv_score_arrays
from aasist.errors import DataError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- CM protocol


def test_cm_protocol_parses_records_and_labels(tmp_path):
    p = write(tmp_path / "cm.txt",
              "LA_0079 LA_T_1271820 - A01 spoof\n"
              "\n"
              "LA_0079 LA_T_1138215 - - bonafide\r\n"
              "   \n"
              "LA_0031 LA_E_A8093886 - A19 spoof\n")
    recs = read_cm_protocol(p)
    assert recs == [
        CmRecord("LA_0079", "LA_T_1271820", "A01", "spoof"),
        CmRecord("LA_0079", "LA_T_1138215", "-", "bonafide"),
        CmRecord("LA_0031", "LA_E_A8093886", "A19", "spoof"),
    ]
    assert [r.label for r in recs] == [0, 1, 0]  # 1 = bona fide (official convention)
    with pytest.raises(dataclasses.FrozenInstanceError):
        recs[0].key = "bonafide"  # type: ignore[misc]


@pytest.mark.parametrize("bad_line, fragment", [
    ("LA_0079 LA_T_1 - A01", "4 columns"),
    ("LA_0079 LA_T_1 - A01 spoof extra", "6 columns"),
    ("LA_0079 LA_T_1 - A01 fake", "unknown key 'fake'"),
    ("LA_0079 LA_T_1 - spoof A01", "unknown key 'A01'"),
])
def test_cm_protocol_malformed_line_names_file_and_line(tmp_path, bad_line, fragment):
    p = write(tmp_path / "ASVspoof2019.LA.cm.train.trn.txt",
              f"LA_0079 LA_T_0 - - bonafide\n\n{bad_line}\n")
    with pytest.raises(DataError) as info:
        read_cm_protocol(p)
    msg = str(info.value)
    assert msg.startswith(f"{p}:3: ") and fragment in msg and bad_line in msg


def test_cm_protocol_duplicate_utterance(tmp_path):
    p = write(tmp_path / "cm.txt", "S1 U1 - - bonafide\nS1 U2 - A01 spoof\nS2 U1 - A02 spoof\n")
    with pytest.raises(DataError, match=r"cm.txt:3: utterance id 'U1' repeats line 1"):
        read_cm_protocol(p)


def test_cm_protocol_missing_and_binary_file(tmp_path):
    with pytest.raises(DataError, match="CM protocol not found: .*nope.txt.*aasist download"):
        read_cm_protocol(tmp_path / "nope.txt")
    p = tmp_path / "bin.txt"
    p.write_bytes(b"LA_0079 LA_T_1 - - bonafide\n\xff\xfe\x00garbage\x80")
    with pytest.raises(DataError, match="bin.txt:2: not UTF-8 text"):
        read_cm_protocol(p)


def test_empty_protocol_gives_no_records(tmp_path):
    assert read_cm_protocol(write(tmp_path / "cm.txt", "\n# a comment\n\n")) == []


def test_byte_order_mark_is_not_part_of_the_first_field(tmp_path):
    p = tmp_path / "cm.txt"
    p.write_bytes("\ufeffLA_0079 LA_T_1 - - bonafide\n".encode("utf-8"))
    assert read_cm_protocol(p)[0].speaker == "LA_0079"


# --------------------------------------------------------------------------- paths


def test_la_paths_layout(tmp_path):
    root = tmp_path / "LA"
    tr = la_paths(root, "train")
    assert tr.protocol == root / "ASVspoof2019_LA_cm_protocols" / "ASVspoof2019.LA.cm.train.trn.txt"
    assert tr.flac_dir == root / "ASVspoof2019_LA_train" / "flac"
    assert tr.asv_scores is None
    ev = la_paths(root, "eval")
    assert ev.protocol.name == "ASVspoof2019.LA.cm.eval.trl.txt"
    assert ev.flac_dir == root / "ASVspoof2019_LA_eval" / "flac"
    assert ev.asv_scores == (root / "ASVspoof2019_LA_asv_scores"
                             / "ASVspoof2019.LA.asv.eval.gi.trl.scores.txt")
    assert la_paths(root, "dev").asv_scores.name == "ASVspoof2019.LA.asv.dev.gi.trl.scores.txt"


def test_la_paths_accepts_parent_of_la(tmp_path):
    (tmp_path / "LA" / "ASVspoof2019_LA_cm_protocols").mkdir(parents=True)
    assert la_paths(tmp_path, "dev").flac_dir == tmp_path / "LA" / "ASVspoof2019_LA_dev" / "flac"


def test_la_paths_unknown_split_lists_choices():
    with pytest.raises(DataError, match="valid splits: train, dev, eval"):
        la_paths("LA", "test")


# --------------------------------------------------------------------------- ASV scores


def test_asv_scores(tmp_path):
    p = write(tmp_path / "asv.txt", "bonafide target 2.5\nbonafide nontarget -1e1\n\nA07 spoof 0.4\n")
    assert read_asv_scores(p) == [AsvRecord("bonafide", "target", 2.5),
                                  AsvRecord("bonafide", "nontarget", -10.0),
                                  AsvRecord("A07", "spoof", 0.4)]


@pytest.mark.parametrize("bad_line, fragment", [
    ("A07 spoof", "found 2"),
    ("A07 imposter 0.4", "unknown key 'imposter'"),
    ("A07 spoof high", "score 'high' is not a number"),
    ("A07 spoof nan", "not finite"),
])
def test_asv_scores_malformed(tmp_path, bad_line, fragment):
    p = write(tmp_path / "asv.txt", f"bonafide target 2.5\n{bad_line}\n")
    with pytest.raises(DataError) as info:
        read_asv_scores(p)
    assert str(info.value).startswith(f"{p}:2: ")
    assert fragment in str(info.value)


def test_one_parser_for_both_views_of_the_asv_file(tmp_path):
    p = write(tmp_path / "asv.txt", "bonafide target 2.5\nbonafide nontarget -1\nA07 spoof 0.4\n")
    arrays = read_asv_score_arrays(p)
    assert [r.score for r in read_asv_scores(p)] == list(arrays.scores)


# --------------------------------------------------------------------------- 2021


LA21 = ("LA_0009 LA_E_9332881 alaw ita_tx A07 spoof notrim eval\n"
        "LA_0009 LA_E_1000001 none - - bonafide notrim progress\n"
        "\n"
        "LA_0010 LA_E_1000002 g722 loc_tx A19 spoof trim eval\n")
DF21 = ("LA_0023 DF_E_2000011 nocodec asvspoof A14 spoof notrim progress traditional_vocoder - - - -\n"
        "VCC2SF1 DF_E_2000012 mp3m4a vcc2020 Task1-team20 spoof notrim eval neural_vocoder_autoregressive - - - -\n"
        "LA_0024 DF_E_2000013 ogg asvspoof bonafide bonafide notrim eval bonafide - - - -\n")


def test_2021_la_metadata(tmp_path):
    p = write(tmp_path / "trial_metadata.txt", LA21)
    recs = read_2021_metadata(p)  # default: official eval subset, track detected
    assert [r.utt_id for r in recs] == ["LA_E_9332881", "LA_E_1000002"]
    r = recs[0]
    assert (r.track, r.speaker, r.codec, r.transmission, r.attack, r.key, r.trim, r.subset,
            r.vocoder, r.label) == ("LA", "LA_0009", "alaw", "ita_tx", "A07", "spoof", "notrim",
                                    "eval", None, 0)
    everything = read_2021_metadata(p, track="LA", subset=None)
    assert len(everything) == 3 and everything[1].label == 1 and everything[1].subset == "progress"
    assert [r.utt_id for r in read_2021_metadata(p, subset="progress")] == ["LA_E_1000001"]


def test_2021_df_metadata(tmp_path):
    p = write(tmp_path / "trial_metadata.txt", DF21)
    recs = read_2021_metadata(p, track="DF", subset=None)
    assert len(recs) == 3
    r = recs[0]
    assert (r.track, r.speaker, r.utt_id, r.codec, r.source, r.attack, r.key, r.trim, r.subset,
            r.vocoder) == ("DF", "LA_0023", "DF_E_2000011", "nocodec", "asvspoof", "A14", "spoof",
                           "notrim", "progress", "traditional_vocoder")
    assert recs[1].source == "vcc2020" and recs[1].vocoder == "neural_vocoder_autoregressive"
    assert [r.utt_id for r in read_2021_metadata(p)] == ["DF_E_2000012", "DF_E_2000013"]
    assert [r.label for r in read_2021_metadata(p)] == [0, 1]


def test_2021_wrong_track_or_columns(tmp_path):
    la = write(tmp_path / "la.txt", LA21)
    with pytest.raises(DataError, match=r"la.txt:1: 8 columns.*13 columns for the DF track"):
        read_2021_metadata(la, track="DF")
    mixed = write(tmp_path / "mixed.txt", LA21 + DF21)
    with pytest.raises(DataError, match=r"mixed.txt:5: 13 columns"):
        read_2021_metadata(mixed)
    with pytest.raises(DataError, match="valid tracks: LA, DF"):
        read_2021_metadata(la, track="PA")
    odd = write(tmp_path / "odd.txt", "a b c\n")
    with pytest.raises(DataError, match=r"odd.txt:1: 3 columns.*8 columns \(LA"):
        read_2021_metadata(odd)


# --------------------------------------------------------------------------- In-the-Wild


def test_in_the_wild(tmp_path):
    p = write(tmp_path / "meta.csv",
              'file,speaker,label\n0.wav,Alec Guinness,spoof\n1.wav,Alec Guinness,bona-fide\n'
              '\n2.wav,"Kennedy, John F.",spoof\n')
    recs = read_in_the_wild(p)
    assert [(r.file, r.speaker, r.key, r.label, r.utt_id) for r in recs] == [
        ("0.wav", "Alec Guinness", "spoof", 0, "0"),
        ("1.wav", "Alec Guinness", "bonafide", 1, "1"),
        ("2.wav", "Kennedy, John F.", "spoof", 0, "2"),
    ]


def test_in_the_wild_errors(tmp_path):
    bad = write(tmp_path / "meta.csv", "file,speaker,label\n0.wav,A,spoof\n1.wav,B,fake\n")
    with pytest.raises(DataError, match=r"meta.csv:3: unknown label 'fake'"):
        read_in_the_wild(bad)
    nohead = write(tmp_path / "nohead.csv", "0.wav,A,spoof\n")
    with pytest.raises(DataError, match=r"nohead.csv:1: header lacks file, speaker, label"):
        read_in_the_wild(nohead)
    short = write(tmp_path / "short.csv", "file,speaker,label\n0.wav,spoof\n")
    with pytest.raises(DataError, match=r"short.csv:2: 2 fields"):
        read_in_the_wild(short)
    with pytest.raises(DataError, match="empty file"):
        read_in_the_wild(write(tmp_path / "empty.csv", ""))


def test_in_the_wild_duplicate_file(tmp_path):
    dup = write(tmp_path / "meta.csv", "file,speaker,label\n0.wav,A,spoof\n0.wav,B,bona-fide\n")
    with pytest.raises(DataError, match=r"meta.csv:3: file '0.wav' repeats line 2"):
        read_in_the_wild(dup)


# --------------------------------------------------------------------------- 2021 ASV


def test_2021_asv_metadata(tmp_path):
    p = write(tmp_path / "trial_metadata.txt",
              "LA_0015 LA_E_5013670 alaw ita_tx bonafide target notrim eval\n"
              "LA_0015 LA_E_5013670 alaw ita_tx bonafide nontarget notrim eval\n"
              "LA_0016 LA_E_1000002 g722 loc_tx A19 spoof trim progress\n")
    recs = read_2021_asv_metadata(p)
    assert [r.key for r in recs] == ["target", "nontarget", "spoof"]  # utterances may repeat
    assert (recs[2].utt_id, recs[2].codec, recs[2].attack, recs[2].subset) == \
        ("LA_E_1000002", "g722", "A19", "progress")
    bad = write(tmp_path / "bad.txt", "LA_0015 LA_E_1 alaw ita_tx bonafide bonafide notrim eval\n")
    with pytest.raises(DataError, match=r"bad.txt:1: unknown key 'bonafide'.*target, nontarget, spoof"):
        read_2021_asv_metadata(bad)


# --------------------------------------------------------------------------- ASVspoof 5


ASV5 = ("E_0731 E_0000000001 F C05 3 E_0000012345 AC2 A21 spoof -\n"
        "E_0732 E_0000000002 M - 0 - - bonafide bonafide -\n")


def test_asvspoof5_protocol_and_key(tmp_path):
    full = read_asvspoof5_protocol(write(tmp_path / "ASVspoof5.eval.track_1.tsv", ASV5))
    assert [(r.utt_id, r.key, r.label, r.attack, r.codec) for r in full] == [
        ("E_0000000001", "spoof", 0, "A21", "C05"), ("E_0000000002", "bonafide", 1, "bonafide", "-")]
    assert (full[0].speaker, full[0].gender, full[0].codec_q, full[0].codec_seed,
            full[0].attack_tag) == ("E_0731", "F", "3", "E_0000012345", "AC2")
    key = read_asvspoof5_protocol(write(tmp_path / "key.tsv", "filename\tcm-label\n"
                                        "E_0000000001\tspoof\nE_0000000002\tbonafide\n"))
    assert [(r.utt_id, r.key) for r in key] == [("E_0000000001", "spoof"), ("E_0000000002", "bonafide")]
    assert key[0].attack is None and key[0].codec is None


@pytest.mark.parametrize("text,line,fragment", [
    (ASV5 + "E_1 E_3 F - 0 - - bonafide bonafide\n", 3, "9 columns.*10 columns"),
    (ASV5.replace("A21 spoof", "A21 fake"), 1, "unknown key 'fake'"),
    (ASV5 + ASV5.splitlines()[0] + "\n", 3, "file name 'E_0000000001' repeats line 1"),
    ("filename\tcm-label\nE_1\tspoof\tx\n", 2, "3 columns.*'filename cm-label'"),
])
def test_asvspoof5_protocol_errors(tmp_path, text, line, fragment):
    p = write(tmp_path / "p.tsv", text)
    with pytest.raises(DataError, match=fragment) as info:
        read_asvspoof5_protocol(p)
    assert str(info.value).startswith(f"{p}:{line}: ")
