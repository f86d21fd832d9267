"""Score files: reading and writing each format the corpora's evaluation uses.

* ASVspoof 2019 CM scores (ours and the official ones): ``utt_id source key score`` per
  line, ``source`` the attack id or ``-``; higher score = more bona fide.
* ASVspoof 2019 ASV scores: ``source key score``, key ``target``/``nontarget``/``spoof``.
* Trial scores, the ASVspoof 2021 submission format (and ours for In-the-Wild):
  ``trial score`` per line.
* ASVspoof 2021 LA ASV scores (the organisers'): ``claimed_speaker trial score``, one line
  per line of the ASV ``trial_metadata.txt``.
* ASVspoof 5 (track 1) submission: tab separated, with the header ``filename	cm-score``.

Readers share :mod:`aasist.data.textfile` (blank lines and ``#`` comments skipped; errors
as ``<path>:<line>: <problem>; <fix>``); writers replace the file atomically.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence, Union

import numpy as np

from ..fileio import atomic_write
from .protocols import ASV_KEYS, CM_KEYS, AsvRecord, CmRecord
from .textfile import check_unique, data_lines, line_error, parse_score

PathLike = Union[str, "os.PathLike[str]"]

# Source column values that mean "no attack" in CM score files (protocols use "-").
BONAFIDE_SOURCES = ("-", "bonafide")
_RESCORE = "re-run the scoring step that writes it"


@dataclass(frozen=True)
class CMScores:
    """A CM score file: N trials of ``utt_id source key score``.

    ``utt_ids``, ``sources`` (attack id, or ``-``/``bonafide``), ``keys`` (``bonafide`` or
    ``spoof``) are lists of N strings; ``scores`` is (N,) float64.
    """

    path: str
    utt_ids: list[str]
    sources: list[str]
    keys: list[str]
    scores: np.ndarray

    @property
    def is_bonafide(self) -> np.ndarray:
        """(N,) bool mask of bona fide trials."""
        return np.array([k == "bonafide" for k in self.keys], dtype=bool)

    @property
    def bona(self) -> np.ndarray:
        """(Nb,) bona fide scores."""
        return self.scores[self.is_bonafide]

    @property
    def spoof(self) -> np.ndarray:
        """(Ns,) spoof scores, in file order."""
        return self.scores[~self.is_bonafide]

    @property
    def spoof_sources(self) -> list[str]:
        """(Ns,) attack id of each spoof trial, aligned with :attr:`spoof`."""
        return [s for s, k in zip(self.sources, self.keys) if k != "bonafide"]


@dataclass(frozen=True)
class ASVScores:
    """An ASV score file: N trials of ``source key score``; ``scores`` is (N,) float64."""

    path: str
    sources: list[str]
    keys: list[str]
    scores: np.ndarray

    def _of(self, key: str) -> np.ndarray:
        return self.scores[np.array([k == key for k in self.keys], dtype=bool)]

    @property
    def target(self) -> np.ndarray:
        return self._of("target")

    @property
    def nontarget(self) -> np.ndarray:
        return self._of("nontarget")

    @property
    def spoof(self) -> np.ndarray:
        return self._of("spoof")


def _no_scores(path: PathLike) -> Exception:
    return line_error(path, 1, "the file holds no scores (empty)", _RESCORE)


# kind -> (columns, index of the key column, valid keys, column names, fix)
_LAYOUTS = {
    "CM": (4, 2, CM_KEYS, "utt_id source key score", "write one trial per line"),
    "ASV": (3, 1, ASV_KEYS, "source key score", "use the organisers' ASV score file"),
}


def _score_fields(path: PathLike, number: int, line: str, kind: str) -> list[str]:
    """The fields of a CM or ASV score line: their number and the key are checked."""
    count, key_at, keys, names, fix = _LAYOUTS[kind]
    cols = line.split()
    if len(cols) != count:
        other = "ASV" if kind == "CM" else "CM"
        o_count, o_key_at, o_keys = _LAYOUTS[other][:3]
        article = "an" if other == "ASV" else "a"
        hint = (f" (this looks like {article} {other} score file; pass it as the {other} scores)"
                if len(cols) == o_count and cols[o_key_at] in o_keys else "")
        raise line_error(path, number, f"expected {count} columns '{names}', found "
                         f"{len(cols)}{hint}", fix)
    if cols[key_at] not in keys:
        raise line_error(path, number, f"unknown key {cols[key_at]!r}",
                         f"the {('first', 'second', 'third')[key_at]} column must be one of "
                         f"{', '.join(keys)}")
    return cols


def read_cm_scores(path: PathLike) -> CMScores:
    """Read a 2019 CM score file (``utt_id source key score`` per line).

    Raises DataError naming ``path:line`` on a missing or empty file, a wrong column count,
    a non-numeric or non-finite score, a duplicated utterance id, an unknown key, or a bona
    fide trial with an attack id as source.
    """
    path = os.fspath(path)
    rows: list[tuple[str, str, str, float]] = []
    seen: dict[str, int] = {}
    for number, line in data_lines(path, "CM score file", _RESCORE):
        utt, source, key, token = _score_fields(path, number, line, "CM")
        if key == "bonafide" and source not in BONAFIDE_SOURCES:
            raise line_error(path, number, f"bona fide trial has attack id {source!r}",
                             "bona fide trials take source '-' (or 'bonafide')")
        check_unique(path, number, utt, seen)
        rows.append((utt, source, key, parse_score(path, number, token)))
    if not rows:
        raise _no_scores(path)
    utt_ids, sources, keys, scores = (list(column) for column in zip(*rows))
    return CMScores(path, utt_ids, sources, keys, np.asarray(scores, dtype=np.float64))


def read_asv_scores(path: PathLike) -> ASVScores:
    """Read a 2019 ASV score file (``source key score``, key target|nontarget|spoof).

    Raises DataError naming ``path:line`` on a missing or empty file, a wrong column
    count, a non-numeric or non-finite score, or an unknown key.
    """
    path = os.fspath(path)
    rows: list[tuple[str, str, float]] = []
    for number, line in data_lines(path, "ASV score file", "use the organisers' ASV score file"):
        source, key, token = _score_fields(path, number, line, "ASV")
        rows.append((source, key, parse_score(path, number, token)))
    if not rows:
        raise _no_scores(path)
    sources, keys, scores = (list(column) for column in zip(*rows))
    return ASVScores(path, sources, keys, np.asarray(scores, dtype=np.float64))


def read_asv_records(path: PathLike) -> list[AsvRecord]:
    """:func:`read_asv_scores` as one record per line."""
    scores = read_asv_scores(path)
    return [AsvRecord(source=s, key=k, score=float(v))
            for s, k, v in zip(scores.sources, scores.keys, scores.scores)]


@dataclass(frozen=True)
class TrialScores:
    """Scores by trial id, and the line each came from (for messages)."""

    path: str
    scores: dict[str, float]
    lines: dict[str, int]


def read_trial_scores(path: PathLike, header: Sequence[str] | None = None,
                      what: str = "score file") -> TrialScores:
    """Read ``trial score`` lines (whitespace separated), after ``header`` when given.

    ``header`` (e.g. ``("filename", "cm-score")`` for ASVspoof 5) must be the first line.
    Raises DataError naming ``path:line`` on a missing or empty file, a missing header, a
    wrong column count, a repeated trial or a score that is not a finite number.
    """
    path = os.fspath(path)
    names = " ".join(header) if header else "trial score"
    scores: dict[str, float] = {}
    lines: dict[str, int] = {}
    expect_header = header is not None
    for number, line in data_lines(path, what, _RESCORE):
        cols = line.split()
        if expect_header:
            if tuple(cols) != tuple(header):
                raise line_error(path, number, f"the first line is {line[:60]!r}, not the header "
                                 f"{names!r}", f"start the file with the line '{names}'")
            expect_header = False
            continue
        if len(cols) != 2:
            raise line_error(path, number, f"expected 2 columns '{names}', found {len(cols)}",
                             "write one trial and its score per line")
        check_unique(path, number, cols[0], lines, "trial")
        scores[cols[0]] = parse_score(path, number, cols[1])
    if not scores:
        raise _no_scores(path)
    return TrialScores(path, scores, lines)


ASVSPOOF5_HEADER = ("filename", "cm-score")


def read_asvspoof5_scores(path: PathLike) -> TrialScores:
    """Read an ASVspoof 5 score file (header ``filename	cm-score``, then one trial a line)."""
    return read_trial_scores(path, ASVSPOOF5_HEADER, "ASVspoof 5 score file")


def read_2021_asv_scores(path: PathLike) -> list[tuple[str, float, int]]:
    """The organisers' ASVspoof 2021 ASV scores: ``(trial, score, line)`` in file order."""
    out = []
    for number, line in data_lines(path, "ASVspoof 2021 ASV score file",
                                   "use the score.txt under keys/LA/ASV/"):
        cols = line.split()
        if len(cols) != 3:
            raise line_error(path, number, f"expected 3 columns 'claimed_speaker trial score', "
                             f"found {len(cols)}", "use the organisers' ASV score file")
        out.append((cols[1], parse_score(path, number, cols[2]), number))
    if not out:
        raise _no_scores(path)
    return out


def write_trial_scores(path: PathLike, utt_ids: Sequence[str], values: np.ndarray,
                       header: Sequence[str] | None = None, sep: str = " ") -> None:
    """``trial score`` lines (``sep`` between them), after a ``header`` line when given."""
    with atomic_write(path) as fh:
        if header:
            fh.write(sep.join(header) + "\n")
        for utt_id, value in zip(utt_ids, values):
            fh.write(f"{utt_id}{sep}{float(value)!r}\n")


def write_cm_scores(path: PathLike, records: Sequence[CmRecord], values: np.ndarray) -> None:
    """The official 4-column CM score file: ``utt_id source key score`` (source = attack or '-')."""
    with atomic_write(path) as fh:
        for record, value in zip(records, values):
            fh.write(f"{record.utt_id} {record.attack} {record.key} {float(value)!r}\n")


__all__ = ["ASVSPOOF5_HEADER", "ASVScores", "BONAFIDE_SOURCES", "CMScores", "TrialScores",
           "read_2021_asv_scores", "read_asv_records", "read_asv_scores", "read_asvspoof5_scores", "read_cm_scores",
           "read_trial_scores", "write_cm_scores", "write_trial_scores"]
