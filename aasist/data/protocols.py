"""Readers for ASVspoof protocol, score and metadata files, returning typed records.

Every reader skips blank lines and ``#`` comments and raises :class:`aasist.errors.DataError`
as ``<path>:<line>: <problem>; <fix>`` for the first malformed line (see
:mod:`aasist.data.textfile`, the line reader all of them share).

Formats (one record per line, whitespace separated unless noted):

* ASVspoof 2019 LA CM protocol: ``LA_0079 LA_T_1271820 - A01 spoof``
  (speaker, utterance id, ``-``, attack id or ``-``, key ``bonafide``/``spoof``).
* ASVspoof 2019 LA ASV scores: ``bonafide target 2.5`` / ``A07 spoof 0.4``
  (source, key ``target``/``nontarget``/``spoof``, score).
* ASVspoof 2021 ``trial_metadata.txt``: LA has 8 columns
  (``LA_0009 LA_E_9332881 alaw ita_tx A07 spoof notrim eval``), DF has 13
  (``LA_0023 DF_E_2000011 nocodec asvspoof A14 spoof notrim progress traditional_vocoder - - - -``).
* ASVspoof 2021 LA ASV ``trial_metadata.txt``: 8 columns like the CM one, key
  ``target``/``nontarget``/``spoof`` (``LA_0015 LA_E_5013670 alaw ita_tx bonafide target notrim eval``).
* In-the-Wild ``meta.csv``: CSV with header ``file,speaker,label``, labels ``spoof`` / ``bona-fide``.
* ASVspoof 5 protocols (``ASVspoof5.{train,dev.track_1,eval.track_1}.tsv``, space separated
  despite the name): ``SPEAKER FILE GENDER CODEC CODEC_Q CODEC_SEED ATTACK_TAG ATTACK KEY TMP``
  (``E_0731 E_0000000001 F C05 3 E_0000012345 AC2 A21 spoof -``); or the organisers'
  2-column key, tab separated with the header ``filename	cm-label``.

Labels follow the official convention: 1 = bona fide, 0 = spoof.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

from ..errors import DataError
from .textfile import bad_line, check_unique, csv_row, data_lines, fields

PathLike = Union[str, "os.PathLike[str]"]

SPLITS = ("train", "dev", "eval")
CM_KEYS = ("bonafide", "spoof")
ASV_KEYS = ("target", "nontarget", "spoof")
TRACKS_2021 = ("LA", "DF")

_PROTOCOL_NAMES = {"train": "train.trn", "dev": "dev.trl", "eval": "eval.trl"}
_DOWNLOAD_HINT = "download and extract LA.zip with `aasist download --corpus la2019`"
_KEYS_HINT = "download and extract the keys with `aasist download --corpus la2021` (or df2021)"


# --------------------------------------------------------------------------- records


class _Keyed:
    """A trial record with a ``key`` (``bonafide`` or ``spoof``)."""

    key: str

    @property
    def label(self) -> int:
        """1 for bona fide, 0 for spoof (official convention)."""
        return 1 if self.key == "bonafide" else 0


@dataclass(frozen=True)
class CmRecord(_Keyed):
    """One line of an ASVspoof 2019 LA CM protocol.

    ``attack`` is an attack id (``A01`` .. ``A19``) or ``-`` for bona fide speech;
    ``key`` is ``bonafide`` or ``spoof``.
    """

    speaker: str
    utt_id: str
    attack: str
    key: str


@dataclass(frozen=True)
class AsvRecord:
    """One line of an ASVspoof 2019 ASV score file.

    ``source`` is ``bonafide`` or an attack id; ``key`` is ``target``, ``nontarget`` or ``spoof``.
    """

    source: str
    key: str
    score: float


@dataclass(frozen=True)
class _Line2021:
    """The 8 columns an ASVspoof 2021 CM and ASV ``trial_metadata.txt`` line share."""

    speaker: str
    utt_id: str
    codec: str
    transmission: str
    attack: str
    key: str
    trim: str
    subset: str


@dataclass(frozen=True)
class Trial2021Record(_Line2021, _Keyed):
    """One line of an ASVspoof 2021 LA or DF (CM) ``trial_metadata.txt``.

    ``transmission`` is the transmission channel for LA (e.g. ``ita_tx``) and the source
    corpus for DF (``asvspoof``, ``vcc2018``, ``vcc2020``; also available as ``source``).
    ``vocoder`` is the DF vocoder type (e.g. ``traditional_vocoder``) and ``None`` for LA.
    ``subset`` is ``eval`` for the trials behind the official results, ``progress`` or
    ``hidden`` for the others.
    """

    track: str = "LA"
    vocoder: Optional[str] = None

    @property
    def source(self) -> str:
        """Alias of ``transmission`` (the DF column holds the source corpus)."""
        return self.transmission


@dataclass(frozen=True)
class WildRecord(_Keyed):
    """One row of the In-the-Wild ``meta.csv``.

    ``key`` is normalised to ``bonafide`` / ``spoof`` (the file writes ``bona-fide``).
    """

    file: str
    speaker: str
    key: str

    @property
    def utt_id(self) -> str:
        """The file name without its extension (``0.wav`` -> ``0``)."""
        return Path(self.file).stem

    @property
    def attack(self) -> str:
        """Always ``-``: the corpus does not say which system made a spoof."""
        return "-"


@dataclass(frozen=True)
class Asv2021Record(_Line2021):
    """One line of the ASVspoof 2021 LA ASV ``trial_metadata.txt`` (an ASV trial).

    ``key`` is ``target``, ``nontarget`` or ``spoof``; the same utterance may appear in
    several trials (against several claimed speakers).
    """


@dataclass(frozen=True)
class Asvspoof5Record(_Keyed):
    """One trial of an ASVspoof 5 protocol (or of the organisers' 2-column key).

    ``attack`` is ``A01`` .. ``A32`` or ``bonafide``; ``codec`` is ``C01`` .. ``C11`` or
    ``-`` (uncoded). Read from the 2-column key, everything but ``utt_id`` and ``key`` is
    None.
    """

    utt_id: str
    key: str
    speaker: Optional[str] = None
    gender: Optional[str] = None
    codec: Optional[str] = None
    codec_q: Optional[str] = None
    codec_seed: Optional[str] = None
    attack_tag: Optional[str] = None
    attack: Optional[str] = None


@dataclass(frozen=True)
class LaPaths:
    """Where one split of ASVspoof 2019 LA lives (see :func:`la_paths`)."""

    split: str
    protocol: Path
    flac_dir: Path
    asv_scores: Optional[Path]  # None for train: the official release has no train ASV scores


# --------------------------------------------------------------------------- helpers


def utt_id_of(record: Any) -> str:
    """The utterance id of a protocol record, or the string itself for a plain id."""
    return record if isinstance(record, str) else record.utt_id


# --------------------------------------------------------------------------- 2019 LA


def read_cm_protocol(path: PathLike) -> list[CmRecord]:
    """Read an ASVspoof 2019 LA CM protocol (``LA_0079 LA_T_1271820 - A01 spoof``).

    Returns the records in file order. Raises DataError (file and line) for a line without
    exactly 5 columns, a key other than bonafide/spoof, or a repeated utterance id.
    """
    expected = "5 columns 'SPEAKER UTT_ID - ATTACK KEY', e.g. 'LA_0079 LA_T_1271820 - A01 spoof'"
    records: list[CmRecord] = []
    seen: dict[str, int] = {}
    for number, line in data_lines(path, "CM protocol", _DOWNLOAD_HINT):
        speaker, utt_id, _, attack, key = fields(path, number, line, 5, expected)
        _check_key(path, number, line, key, CM_KEYS, "the last column")
        check_unique(path, number, utt_id, seen)
        records.append(CmRecord(speaker=speaker, utt_id=utt_id, attack=attack, key=key))
    return records


def _check_key(path: PathLike, number: int, line: str, key: str, valid: tuple[str, ...],
               column: str) -> None:
    if key not in valid:
        raise bad_line(path, number, line, f"unknown key {key!r}",
                       f"{column} to be one of {', '.join(valid)}")


def la_paths(root: PathLike, split: str) -> LaPaths:
    """Paths of the CM protocol, FLAC folder and ASV score file of one LA split.

    ``root`` is the extracted ``LA/`` folder (the one holding ``ASVspoof2019_LA_train`` ...);
    its parent is accepted too when it contains ``LA/``. Nothing is checked for existence
    except that fallback; the readers report missing files.

    >>> la_paths("data/LA", "dev").protocol.name
    'ASVspoof2019.LA.cm.dev.trl.txt'
    """
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    root = Path(root)
    if (not (root / "ASVspoof2019_LA_cm_protocols").exists()
            and (root / "LA" / "ASVspoof2019_LA_cm_protocols").exists()):
        root = root / "LA"
    protocol = (root / "ASVspoof2019_LA_cm_protocols"
                / f"ASVspoof2019.LA.cm.{_PROTOCOL_NAMES[split]}.txt")
    flac_dir = root / f"ASVspoof2019_LA_{split}" / "flac"
    asv = None
    if split != "train":
        asv = root / "ASVspoof2019_LA_asv_scores" / f"ASVspoof2019.LA.asv.{split}.gi.trl.scores.txt"
    return LaPaths(split=split, protocol=protocol, flac_dir=flac_dir, asv_scores=asv)


# --------------------------------------------------------------------------- 2021 LA / DF

_COLUMNS_2021 = {"LA": 8, "DF": 13}


def read_2021_metadata(path: PathLike, track: Optional[str] = None,
                       subset: Optional[str] = "eval") -> list[Trial2021Record]:
    """Read an ASVspoof 2021 LA or DF ``trial_metadata.txt``.

    ``track`` is ``'LA'`` (8 columns) or ``'DF'`` (13 columns); ``None`` detects it from the
    first line's column count. ``subset`` keeps only trials of that subset: ``'eval'`` (the
    default) is what the official 2021 results are computed on; ``None`` keeps every trial.
    """
    if track is not None and track not in TRACKS_2021:
        raise DataError(f"unknown ASVspoof 2021 track {track!r}; valid tracks: "
                        f"{', '.join(TRACKS_2021)} (PA metadata is not supported)")
    records: list[Trial2021Record] = []
    seen: dict[str, int] = {}
    for number, line in data_lines(path, "ASVspoof 2021 trial metadata file", _KEYS_HINT):
        if track is None:
            track = {8: "LA", 13: "DF"}.get(len(line.split()))
            if track is None:
                raise bad_line(path, number, line, f"{len(line.split())} columns",
                               "8 columns (LA track) or 13 columns (DF track)")
        cols = fields(path, number, line, _COLUMNS_2021[track],
                      f"{_COLUMNS_2021[track]} columns for the {track} track")
        speaker, utt_id, codec, transmission, attack, key, trim, sub = cols[:8]
        _check_key(path, number, line, key, CM_KEYS, "the 6th column")
        check_unique(path, number, utt_id, seen)
        if subset is not None and sub != subset:
            continue
        records.append(Trial2021Record(
            track=track, speaker=speaker, utt_id=utt_id, codec=codec,
            transmission=transmission, attack=attack, key=key, trim=trim, subset=sub,
            vocoder=cols[8] if track == "DF" else None))
    return records


def read_2021_asv_metadata(path: PathLike) -> list[Asv2021Record]:
    """Read the ASVspoof 2021 LA ASV ``trial_metadata.txt`` (all subsets, file order).

    Its lines pair with the lines of the organisers' ASV score file
    (:func:`aasist.data.scores.read_2021_asv_scores`) one to one, in order.
    """
    expected = "8 columns 'SPEAKER TRIAL CODEC TRANSMISSION ATTACK KEY TRIM SUBSET'"
    records: list[Asv2021Record] = []
    for number, line in data_lines(path, "ASVspoof 2021 ASV trial metadata file", _KEYS_HINT):
        cols = fields(path, number, line, 8, expected)
        _check_key(path, number, line, cols[5], ASV_KEYS, "the 6th column")
        records.append(Asv2021Record(*cols))
    return records


# --------------------------------------------------------------------------- In-the-Wild

_WILD_LABELS = {"spoof": "spoof", "bona-fide": "bonafide", "bonafide": "bonafide"}


def read_in_the_wild(path: PathLike) -> list[WildRecord]:
    """Read the In-the-Wild ``meta.csv`` (header ``file,speaker,label``; labels ``spoof`` /
    ``bona-fide``). Speaker names may contain quoted commas."""
    p = Path(path)
    lines = list(data_lines(p, "In-the-Wild meta.csv", "extract release_in_the_wild.zip"))
    if not lines:
        raise DataError(f"{p}:1: empty file; expected a header 'file,speaker,label' and one "
                        "row per audio file")
    header_no, header_line = lines[0]
    header = [h.strip().lower() for h in csv_row(p, header_no, header_line)]
    missing = [c for c in ("file", "speaker", "label") if c not in header]
    if missing:
        raise bad_line(p, header_no, header_line, f"header lacks {', '.join(missing)}",
                       "a header line 'file,speaker,label'")
    i_file, i_spk, i_lab = (header.index(c) for c in ("file", "speaker", "label"))
    records: list[WildRecord] = []
    seen: dict[str, int] = {}
    for number, line in lines[1:]:
        row = csv_row(p, number, line)
        if len(row) != len(header):
            raise bad_line(p, number, line, f"{len(row)} fields",
                           f"{len(header)} fields like the header")
        file, speaker, raw = row[i_file].strip(), row[i_spk].strip(), row[i_lab].strip()
        key = _WILD_LABELS.get(raw.lower())
        if key is None:
            raise bad_line(p, number, line, f"unknown label {raw!r}",
                           "label 'spoof' or 'bona-fide'")
        if not file:
            raise bad_line(p, number, line, "empty file name", "a file name like '0.wav'")
        check_unique(p, number, file, seen, "file")
        records.append(WildRecord(file=file, speaker=speaker, key=key))
    return records


# --------------------------------------------------------------------------- ASVspoof 5

_ASV5_KEY_HEADER = ("filename", "cm-label")
_ASV5_HINT = "download and extract ASVspoof5_protocols.tar.gz (`aasist download --corpus asvspoof5`)"


def read_asvspoof5_protocol(path: PathLike) -> list[Asvspoof5Record]:
    """Read an ASVspoof 5 protocol (10 columns) or the organisers' 2-column CM key.

    The form is recognised by the first line: the header ``filename cm-label`` (tab or
    space separated) starts a 2-column key. Raises DataError (file and line) for a wrong
    column count, a key other than bonafide/spoof, or a repeated file name.
    """
    records: list[Asvspoof5Record] = []
    seen: dict[str, int] = {}
    two_columns = False
    for number, line in data_lines(path, "ASVspoof 5 protocol", _ASV5_HINT):
        if not records and not two_columns and tuple(line.split()) == _ASV5_KEY_HEADER:
            two_columns = True
            continue
        if two_columns:
            utt_id, key = fields(path, number, line, 2, "2 columns 'filename cm-label'")
            record = Asvspoof5Record(utt_id=utt_id, key=key)
        else:
            cols = fields(path, number, line, 10, "10 columns 'SPEAKER_ID FLAC_FILE_NAME "
                          "SPEAKER_GENDER CODEC CODEC_Q CODEC_SEED ATTACK_TAG ATTACK_LABEL KEY "
                          "TMP' (or a 2-column key with the header 'filename cm-label')")
            record = Asvspoof5Record(utt_id=cols[1], key=cols[8], speaker=cols[0],
                                     gender=cols[2], codec=cols[3], codec_q=cols[4],
                                     codec_seed=cols[5], attack_tag=cols[6], attack=cols[7])
        _check_key(path, number, line, record.key, CM_KEYS, "the key column")
        check_unique(path, number, record.utt_id, seen, "file name")
        records.append(record)
    return records


def protocol_summary(records: list[CmRecord]) -> dict[str, int]:
    """Utterance counts: ``total``, ``bonafide``, ``spoof`` and one entry per attack id."""
    summary = {"total": len(records), "bonafide": sum(r.key == "bonafide" for r in records)}
    summary["spoof"] = summary["total"] - summary["bonafide"]
    for attack in sorted({r.attack for r in records if r.key == "spoof"}):
        summary[attack] = sum(r.attack == attack for r in records)
    return summary


__all__ = [
    "ASV_KEYS", "Asv2021Record", "AsvRecord", "Asvspoof5Record", "CM_KEYS", "CmRecord",
    "LaPaths", "SPLITS", "Trial2021Record", "WildRecord", "la_paths", "protocol_summary",
    "read_2021_asv_metadata", "read_2021_metadata", "read_asvspoof5_protocol",
    "read_cm_protocol", "read_in_the_wild", "utt_id_of",
]
