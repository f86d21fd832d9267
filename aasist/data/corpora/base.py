"""What every corpus has: archives, a layout, a protocol reader, a score format, a report.

A corpus module (``la2019.py``, ``asvspoof2021.py``, ...) subclasses :class:`Corpus` for
what differs (its reader, its report and its metrics from files, the organisers' ASV scores,
a mini copy for tests) and makes one instance, which the registry in ``__init__.py`` lists.
The helpers below are shared by the corpus modules; trials and scores in, a JSON-ready dict
out, every problem a :class:`~aasist.errors.DataError` naming the file (and line) to fix.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np

from ... import metrics
from ...errors import ConfigError, DataError
from ..scores import TrialScores, write_cm_scores, write_trial_scores, ASVSPOOF5_HEADER
from ..textfile import data_lines, line_error

PathLike = Union[str, "os.PathLike[str]"]

SCORE_FORMATS = ("cm4", "trial", "asvspoof5")


@dataclass(frozen=True)
class Archive:
    """One file to download: saved as ``name``; ``md5``/``sha256`` where published."""

    name: str
    url: str
    md5: Optional[str] = None
    sha256: Optional[str] = None


@dataclass(frozen=True)
class SplitFiles:
    """Where one split lies: its protocol (keys) file and its audio folder."""

    protocol: Path
    audio_dir: Path
    audio_ext: str


@dataclass(frozen=True)
class Corpus:
    """One corpus. ``root`` and ``extract_to`` are folders relative to the download
    destination: the archives extract into ``extract_to`` and the corpus then lies in
    ``root`` (the folder ``--root`` / ``database_path`` names).

    ``archive_top``: the corpus comes as one zip whose top-level folder this is (a user may
    also hand over a copy they have; see :func:`aasist.download.prepare_corpus`).
    ``subsets``: the trial subsets its metrics can be computed on (ASVspoof 2021).
    ``mini_sizes``: (bona fide, spoof) utterances per split of its mini copy.
    ``train_bonafide``: the bona fide fraction of its train split (the prior a model trained
    on it has learnt), where known.
    """

    name: str
    title: str
    root: str
    extract_to: str
    archives: tuple[Archive, ...]
    splits: tuple[str, ...]
    score_format: str                       # one of SCORE_FORMATS
    protocols: Mapping[str, tuple[str, ...]]  # split -> candidate protocol paths under root
    audio: Mapping[str, tuple[str, ...]]      # split -> candidate audio folders under root
    audio_ext: str
    counts: Optional[Mapping[str, int]] = None  # trials per split in the official release
    resample: bool = False  # bring audio at other rates to 16 kHz (else they are refused)
    archive_top: Optional[str] = None
    subsets: tuple[str, ...] = ()
    mini_sizes: Optional[Mapping[str, tuple[int, int]]] = None
    train_bonafide: Optional[float] = None  # bona fide fraction of the train split, if known

    # ------------------------------------------------------------------ layout and trials

    def check_split(self, split: str) -> None:
        if split not in self.splits:
            raise ConfigError(f"{self.title} has no {split!r} split; valid: "
                              f"{', '.join(self.splits)}")

    def split_files(self, root: PathLike, split: str) -> SplitFiles:
        """Protocol, audio folder and extension of ``split`` in the corpus at ``root``.

        ``root`` may also be the download destination that holds :attr:`root`. Raises
        DataError naming the places looked in when the protocol is not found.
        """
        self.check_split(split)
        base = self.resolve_root(root)
        protocol = first_existing(base, self.protocols[split])
        if protocol is None:
            tried = ", ".join(str(base / c) for c in self.protocols[split])
            raise DataError(f"{self.title} {split} protocol not found (looked for {tried}); "
                            f"download it with `aasist download --corpus {self.name}` or "
                            f"pass the folder that holds it as --root")
        audio = first_existing(base, self.audio[split]) or base / self.audio[split][0]
        return SplitFiles(protocol, audio, self.audio_ext)

    def resolve_root(self, root: PathLike) -> Path:
        """``root`` itself, or ``root/<self.root>`` when ``root`` is the download destination."""
        root = Path(root)
        nested = root / self.root
        if nested.is_dir() and not any(first_existing(root, c) for c in self.protocols.values()):
            return nested
        return root

    def reader(self, path: PathLike) -> list:
        """The trials of a protocol (keys) file, in file order (records with ``utt_id``, ``key``)."""
        raise NotImplementedError

    def read(self, root: PathLike, split: str) -> list:
        """Every trial of ``split`` (all subsets), in protocol order."""
        return self.reader(self.split_files(root, split).protocol)

    def keys_file(self, keys: PathLike) -> Path:
        """The keys (protocol) file of the eval split: ``keys`` itself when it is a file,
        else looked for in the folder ``keys`` as the organisers' archive lays it out."""
        keys = Path(keys)
        if keys.is_file():
            return keys
        candidates = self.protocols.get("eval", ())
        found = first_existing(keys, candidates) if keys.is_dir() else None
        if found is None:
            tried = ", ".join(str(keys / c) for c in candidates) or str(keys)
            raise DataError(f"{self.title} keys not found: {keys} (looked for {tried}); pass "
                            "the keys file itself or the folder the organisers' keys archive "
                            "extracts to")
        return found

    def tag(self, split: str) -> str:
        """A short name of one split of this corpus, for default folder and cache names."""
        return f"{self.name}-{split}"

    # ------------------------------------------------------------------ scores and metrics

    def write_scores(self, path: PathLike, records: Sequence, values: np.ndarray) -> None:
        """``records``' scores (N,) in this corpus's official score-file format."""
        if self.score_format == "cm4":
            write_cm_scores(path, records, values)
        elif self.score_format == "trial":
            write_trial_scores(path, [r.utt_id for r in records], values)
        else:
            write_trial_scores(path, [r.utt_id for r in records], values, ASVSPOOF5_HEADER, "\t")

    @property
    def score_suffix(self) -> str:
        return ".tsv" if self.score_format == "asvspoof5" else ".txt"

    def asv_for(self, root: PathLike, split: str, subset: str = "eval") -> Any:
        """The organisers' ASV scores :meth:`report` takes for ``split`` (None: none)."""
        return None

    def report(self, records: Sequence[Any], values: np.ndarray, *, subset: str = "eval",
               asv: Any = None) -> dict:
        """The official metrics of trials ``records`` with scores ``values`` (N,).

        Every report has ``corpus``, ``eer_percent``, ``min_tdcf`` (None where the corpus
        has no t-DCF), ``per_attack_eer_percent``, ``n_bonafide`` and ``n_spoof``, then the
        corpus's own metrics and breakdowns. ``asv``: what :meth:`asv_for` gives.
        """
        raise NotImplementedError

    def metrics_from_files(self, scores: PathLike, keys: PathLike | None = None,
                           subset: str = "eval", asv_scores: PathLike | None = None) -> dict:
        """`aasist metrics`: the report of a score file against the corpus's keys."""
        raise NotImplementedError

    def format_report(self, report: Mapping[str, Any]) -> str:
        """A plain-text rendering of one of this corpus's reports (no trailing newline)."""
        subset = f", {report['subset']} subset" if report.get("subset") else ""
        lines = [f"{self.title}{subset}: {report['n_bonafide']} bona fide, "
                 f"{report['n_spoof']} spoof"]
        for key, spec, unit in (("min_dcf", ".5f", ""), ("act_dcf", ".5f", ""),
                                ("cllr_bits", ".5f", " bits"), ("min_cllr_bits", ".5f", " bits"),
                                ("eer_percent", ".4f", " %"), ("min_tdcf", ".6f", "")):
            if key in report and (key != "min_tdcf" or report[key] is not None):
                lines.append(f"{key:<24}{_fmt(report[key], spec)}{unit}")
        return "\n".join(lines + _breakdowns(report))

    # ------------------------------------------------------------------ mini copy

    def make_mini(self, dest: PathLike, seed: int = 0,
                  sizes: Optional[Mapping[str, tuple[int, int]]] = None) -> Path:
        """Write a few synthetic utterances in this corpus's exact layout under ``dest``
        (its download destination); return the corpus folder. For tests and offline demos."""
        raise NotImplementedError(f"{self.title} has no mini copy")

    def _mini_sizes(self, sizes: Optional[Mapping[str, tuple[int, int]]]) -> dict:
        sizes = dict(sizes or self.mini_sizes or {})
        for split in sizes:
            self.check_split(split)
        return sizes


# --------------------------------------------------------------------------- helpers

def first_existing(base: Path, candidates: Sequence[str]) -> Optional[Path]:
    return next((base / c for c in candidates if (base / c).exists()), None)


def labels(records: Sequence[Any]) -> np.ndarray:
    """(N,) bool: bona fide trials."""
    return np.array([r.key == "bonafide" for r in records], dtype=bool)


def or_none(func: Callable, *args) -> Optional[float]:
    """``func(*args)``, or None where the official code gives NaN (an empty class, hard
    decisions, an undefined t-DCF in one condition)."""
    if any(np.size(a) == 0 for a in args):
        return None
    try:
        value = func(*args)
    except ValueError:
        return None
    return float(value[0] if isinstance(value, tuple) else value)


def common_report(corpus: str, values: np.ndarray, is_bona: np.ndarray) -> dict:
    """The keys every report has, with the pooled EER."""
    bona, spoof = values[is_bona], values[~is_bona]
    try:
        eer = 100 * metrics.compute_eer(bona, spoof)[0]
    except ValueError as exc:
        raise DataError(f"{corpus} scores: {exc}") from None
    return {"corpus": corpus, "eer_percent": eer, "min_tdcf": None,
            "per_attack_eer_percent": {}, "n_bonafide": int(is_bona.sum()),
            "n_spoof": int((~is_bona).sum()), **metrics.calibration_report(bona, spoof)}


def _line_of(path: PathLike, trial: str) -> int:
    """The first line of ``path`` that mentions ``trial`` (for a message; 1 if none)."""
    for number, line in data_lines(path, "keys"):
        if trial in line.replace(",", " ").split():
            return number
    return 1


def join_file_scores(records: Sequence[Any], scores: TrialScores, keys: PathLike,
                     wanted: Optional[Callable[[Any], bool]] = None) -> tuple[list, np.ndarray]:
    """``(records kept, their scores (N,))``: every record ``wanted`` keeps must have a
    score, and every scored trial must be in the keys (any subset)."""
    known = {r.utt_id for r in records}
    for trial, number in scores.lines.items():
        if trial not in known:
            raise line_error(scores.path, number, f"trial {trial!r} is not in the keys {keys}",
                             "score only the trials of these keys (is it the right corpus?)")
    kept = [r for r in records if wanted is None or wanted(r)]
    for record in kept:
        if record.utt_id not in scores.scores:
            raise line_error(keys, _line_of(keys, record.utt_id),
                             f"trial {record.utt_id!r} has no score in {scores.path}",
                             "score every trial of the keys (of the chosen subset)")
    return kept, np.array([scores.scores[r.utt_id] for r in kept], dtype=np.float64)


def reported(scores: PathLike, make: Callable[[], dict]) -> dict:
    """``make()``, with a DataError naming the score file where the maths objects."""
    try:
        return make()
    except DataError as exc:
        raise DataError(f"{scores}: {exc}") from None


def _fmt(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _breakdowns(report: Mapping[str, Any]) -> list[str]:
    """One table per condition (attack, codec, vocoder): a row per value, a column per metric."""
    groups: dict[str, dict[str, Mapping]] = {}
    for key, value in report.items():
        if "_by_" in key and value:
            metric, condition = key.split("_by_")
            groups.setdefault(condition, {})[metric] = value
    lines: list[str] = []
    for condition, columns in groups.items():
        rows = list(dict.fromkeys(k for column in columns.values() for k in column))
        width = max(len(condition), *(len(r) for r in rows))
        lines += ["", f"{condition:<{width}}" + "".join(f"  {m:>12}" for m in columns),
                  "-" * width + "  ------------" * len(columns)]
        lines += [f"{row:<{width}}" + "".join(
            f"  {_fmt(column.get(row), '.4f' if m.startswith('eer') else '.5f'):>12}"
            for m, column in columns.items()) for row in rows]
    return lines


__all__ = ["Archive", "Corpus", "SCORE_FORMATS", "SplitFiles", "common_report", "first_existing",
           "join_file_scores", "labels", "or_none", "reported"]
