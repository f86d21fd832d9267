"""Score files: reading and writing each format the corpora's evaluation uses.

* ASVspoof 2019 CM scores (ours and the official ones): ``utt_id source key score`` per
  line, ``source`` the attack id or ``-``; higher score = more bona fide.
* ASVspoof 2019 ASV scores: ``source key score``, key ``target``/``nontarget``/``spoof``.

Readers share :mod:`aasist.data.textfile` (blank lines and ``#`` comments skipped; errors
as ``<path>:<line>: <problem>; <fix>``); writers replace the file atomically.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence, Union

import numpy as np

from ..fileio import atomic_write
from .protocols import ASV_KEYS, CM_KEYS, CmRecord
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
    utt_ids: list[str] = []
    sources: list[str] = []
    keys: list[str] = []
    scores: list[float] = []
    seen: dict[str, int] = {}
    for number, line in data_lines(path, "CM score file", _RESCORE):
        utt, source, key, token = _score_fields(path, number, line, "CM")
        if key == "bonafide" and source not in BONAFIDE_SOURCES:
            raise line_error(path, number, f"bona fide trial has attack id {source!r}",
                             "bona fide trials take source '-' (or 'bonafide')")
        check_unique(path, number, utt, seen)
        scores.append(parse_score(path, number, token))
        utt_ids.append(utt)
        sources.append(source)
        keys.append(key)
    if not scores:
        raise _no_scores(path)
    return CMScores(path, utt_ids, sources, keys, np.asarray(scores, dtype=np.float64))


def read_asv_scores(path: PathLike) -> ASVScores:
    """Read a 2019 ASV score file (``source key score``, key target|nontarget|spoof).

    Raises DataError naming ``path:line`` on a missing or empty file, a wrong column
    count, a non-numeric or non-finite score, or an unknown key.
    """
    path = os.fspath(path)
    sources: list[str] = []
    keys: list[str] = []
    scores: list[float] = []
    for number, line in data_lines(path, "ASV score file", "use the organisers' ASV score file"):
        source, key, token = _score_fields(path, number, line, "ASV")
        scores.append(parse_score(path, number, token))
        sources.append(source)
        keys.append(key)
    if not scores:
        raise _no_scores(path)
    return ASVScores(path, sources, keys, np.asarray(scores, dtype=np.float64))


def write_cm_scores(path: PathLike, records: Sequence[CmRecord], values: np.ndarray) -> None:
    """The official 4-column CM score file: ``utt_id source key score`` (source = attack or '-')."""
    with atomic_write(path) as fh:
        for record, value in zip(records, values):
            fh.write(f"{record.utt_id} {record.attack} {record.key} {float(value)!r}\n")


__all__ = ["ASVScores", "BONAFIDE_SOURCES", "CMScores", "read_asv_scores", "read_cm_scores",
           "write_cm_scores"]
