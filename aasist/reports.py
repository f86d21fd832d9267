"""Official metric reports of each corpus: trials and scores in, a JSON-ready dict out.

:mod:`aasist.metrics` does the maths on arrays; this module selects the trials of each
condition the official evaluation packages break results down by, and, for files, reads
them, checks that they fit together and turns every problem, including a maths
``ValueError`` that only the files can explain, into a :class:`~aasist.errors.DataError`
that names the file (and line) to fix.

Every report has ``corpus``, ``eer_percent``, ``min_tdcf`` (None where the corpus has no
t-DCF), ``per_attack_eer_percent``, ``n_bonafide`` and ``n_spoof``, and then its corpus's
own metrics and breakdowns:

* ``la2019``: :func:`aasist.metrics.report_from_arrays` (the 2019 legacy and the 2021
  t-DCF, ASV EER, per-attack EER).
* ``la2021``: on one subset (default ``eval``), EER and min t-DCF (2021 formulation, with
  the organisers' ASV scores per condition) by attack (A07-A19) and codec (C1-C7), and the
  whole attack x codec tables, as ``asvspoof-challenge/2021`` ``eval-package`` computes them.
* ``df2021``: EER by vocoder type and by compression codec (C1-C9), and the table.
* ``itw``: the pooled EER.
* ``asvspoof5``: min DCF (primary), actual DCF, Cllr, EER; by attack and by codec when the
  keys are the full protocol, as ``asvspoof-challenge/asvspoof5`` ``evaluation-package``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np

from . import metrics
from .data.corpora import (DF2021_CODECS, DF2021_VOCODERS, LA2021_ATTACKS, LA2021_CODECS,
                           SUBSETS_2021, asv_files_2021, cm_keys_file, get_corpus)
from .data.protocols import (ASV_KEYS, Asv2021Record, read_2021_asv_metadata,
                             read_2021_metadata, read_asvspoof5_protocol, read_in_the_wild)
from .data.scores import (TrialScores, read_2021_asv_scores, read_asv_scores,
                          read_asvspoof5_scores, read_cm_scores, read_trial_scores)
from .data.textfile import data_lines, line_error
from .errors import ConfigError, DataError

PathLike = Union[str, "os.PathLike[str]"]

POOLED = "pooled"


# --------------------------------------------------------------------------- helpers

def _labels(records: Sequence[Any]) -> np.ndarray:
    """(N,) bool: bona fide trials."""
    return np.array([r.key == "bonafide" for r in records], dtype=bool)


def _or_none(func: Callable, *args) -> Optional[float]:
    """``func(*args)``, or None where the official code gives NaN (an empty class, hard
    decisions, an undefined t-DCF in one condition)."""
    if any(np.size(a) == 0 for a in args):
        return None
    try:
        value = func(*args)
    except ValueError:
        return None
    return float(value[0] if isinstance(value, tuple) else value)


def _common(corpus: str, values: np.ndarray, is_bona: np.ndarray) -> dict:
    bona, spoof = values[is_bona], values[~is_bona]
    try:
        eer = 100 * metrics.compute_eer(bona, spoof)[0]
    except ValueError as exc:
        raise DataError(f"{corpus} scores: {exc}") from None
    return {"corpus": corpus, "eer_percent": eer, "min_tdcf": None,
            "per_attack_eer_percent": {}, "n_bonafide": int(is_bona.sum()),
            "n_spoof": int((~is_bona).sum())}


# --------------------------------------------------------------------------- 2019 LA

def report_la2019(records: Sequence[Any], values: np.ndarray,
                  asv_path: PathLike | None = None) -> dict:
    """2019 LA report (EER, t-DCF when ASV scores are given, per-attack EER) of joined scores."""
    is_bona = _labels(records)
    sources = [r.attack for r in records if r.key != "bonafide"]
    asv = {}
    if asv_path is not None:
        a = read_asv_scores(asv_path)
        asv = dict(asv_target=a.target, asv_nontarget=a.nontarget, asv_spoof=a.spoof)
    try:
        report = metrics.report_from_arrays(values[is_bona], values[~is_bona], sources, **asv)
    except ValueError as exc:  # the protocol lacks a class, or the ASV file is unusable
        raise DataError(f"{asv_path or 'ASVspoof 2019 LA scores'}: {exc}") from None
    return {"corpus": "la2019", **report}


def _usable(path: PathLike, positive, negative) -> None:
    """DataError naming ``path`` unless its two classes are soft scores the EER accepts."""
    try:
        metrics.compute_eer(positive, negative)
    except ValueError as exc:
        raise DataError(f"{path}: {exc}") from None


def score_report(cm_path: PathLike, asv_path: PathLike | None = None) -> dict:
    """2019 LA report of a CM score file (and the organisers' ASV score file).

    Returns :func:`aasist.metrics.report_from_arrays`. Raises DataError naming the file
    when it is malformed, lacks a class, or holds hard decisions instead of scores.
    """
    cm = read_cm_scores(cm_path)
    if not np.any(cm.is_bonafide) or np.all(cm.is_bonafide):
        missing = "bonafide" if not np.any(cm.is_bonafide) else "spoof"
        raise DataError(f"{cm.path}: no '{missing}' trials; the EER needs both bonafide and "
                        "spoof trials")
    _usable(cm.path, cm.bona, cm.spoof)
    if asv_path is None:
        return metrics.report_from_arrays(cm.bona, cm.spoof, cm.spoof_sources)

    asv = read_asv_scores(asv_path)
    for key in ASV_KEYS:
        if key not in asv.keys:
            raise DataError(f"{asv.path}: no '{key}' trials; the t-DCF needs target, nontarget "
                            "and spoof ASV scores (the organisers' *.asv.*.gi.trl.scores.txt)")
    _usable(asv.path, asv.target, asv.nontarget)
    try:
        return metrics.report_from_arrays(cm.bona, cm.spoof, cm.spoof_sources,
                                          asv.target, asv.nontarget, asv.spoof)
    except ValueError as exc:
        # What is left (e.g. an undefined t-DCF) depends on both files.
        raise DataError(f"{cm.path} with {asv.path}: {exc}") from None


# --------------------------------------------------------------------------- 2021

@dataclass(frozen=True)
class Asv2021:
    """The organisers' ASV trials of one subset: (M,) key, codec and attack, (M,) scores."""

    keys: np.ndarray
    codecs: np.ndarray
    attacks: np.ndarray
    scores: np.ndarray


def load_asv_2021(metadata: PathLike, scores: PathLike, subset: Optional[str] = "eval") -> Asv2021:
    """Pair the ASV ``trial_metadata.txt`` with the ASV score file line by line (as the
    official package does), checking that both lines name the same trial."""
    records: list[Asv2021Record] = read_2021_asv_metadata(metadata)
    rows = read_2021_asv_scores(scores)
    if len(rows) != len(records):
        raise DataError(f"{scores}: {len(rows)} scores for the {len(records)} trials of "
                        f"{metadata}; use the score file that came with that metadata")
    for record, (trial, _, number) in zip(records, rows):
        if trial != record.utt_id:
            raise line_error(scores, number, f"trial {trial!r} where {metadata} has "
                             f"{record.utt_id!r}", "use the score file that came with the metadata")
    keep = [i for i, r in enumerate(records) if subset is None or r.subset == subset]
    return Asv2021(np.array([records[i].key for i in keep]),
                   np.array([records[i].codec for i in keep]),
                   np.array([records[i].attack for i in keep]),
                   np.array([rows[i][1] for i in keep], dtype=np.float64))


def _condition_tables(values: np.ndarray, is_bona: np.ndarray, rows_of: np.ndarray,
                      cols_of: np.ndarray, row_names: Sequence[str], col_names: Sequence[str],
                      asv: Optional[Asv2021], asv_cols_of: Optional[np.ndarray]) -> tuple[dict, dict]:
    """EER (%) and min t-DCF tables ``{row: {col: value}}``, ``pooled`` row and column
    included. Rows (attack, vocoder) select spoofs only; columns (codec) select both
    classes, and the ASV trials too, as the official tables do."""
    eer: dict = {r: {} for r in (*row_names, POOLED)}
    tdcf: dict = {r: {} for r in (*row_names, POOLED)}
    everything = np.ones(values.shape, dtype=bool)
    for col in (*col_names, POOLED):
        in_col = everything if col == POOLED else cols_of == col
        bona = values[is_bona & in_col]
        if asv is not None:
            asv_col = np.ones(asv.keys.shape, bool) if col == POOLED else asv_cols_of == col
            tar = asv.scores[(asv.keys == "target") & asv_col]
            non = asv.scores[(asv.keys == "nontarget") & asv_col]
        for row in (*row_names, POOLED):
            in_row = everything if row == POOLED else rows_of == row
            spoof = values[~is_bona & in_row & in_col]
            eer[row][col] = _or_none(metrics.compute_eer, bona, spoof)
            if eer[row][col] is not None:
                eer[row][col] *= 100
            tdcf[row][col] = None
            if asv is not None:
                asv_row = np.ones(asv.keys.shape, bool) if row == POOLED else asv.attacks == row
                spf = asv.scores[(asv.keys == "spoof") & asv_row & asv_col]
                tdcf[row][col] = _or_none(metrics.min_tdcf_2021, bona, spoof, tar, non, spf)
    return eer, tdcf


def report_2021(track: str, records: Sequence[Any], values: np.ndarray, subset: str = "eval",
                asv: Optional[Asv2021] = None) -> dict:
    """ASVspoof 2021 LA (``track="LA"``) or DF report of the trials of ``subset``.

    ``records`` are :class:`~aasist.data.protocols.Trial2021Record` (any subsets),
    ``values`` (N,) their scores; ``asv`` (LA only) the organisers' ASV trials of the same
    subset, for the min t-DCF (None: no t-DCF).
    """
    if subset not in SUBSETS_2021:
        raise ConfigError(f"unknown ASVspoof 2021 subset {subset!r}; valid: {', '.join(SUBSETS_2021)}")
    keep = np.array([r.subset == subset for r in records], dtype=bool)
    if not keep.any():
        raise DataError(f"no trial of the keys belongs to the {subset!r} subset; choose "
                        f"another --subset ({', '.join(SUBSETS_2021)})")
    kept = [r for r, k in zip(records, keep) if k]
    values, is_bona = np.asarray(values, dtype=np.float64)[keep], _labels(kept)
    if track == "LA":
        rows, row_names, row_key, codecs = [r.attack for r in kept], LA2021_ATTACKS, "attack", LA2021_CODECS
    else:
        rows, row_names, row_key, codecs = [r.vocoder for r in kept], DF2021_VOCODERS, "vocoder", DF2021_CODECS
        asv = None  # DF has no t-DCF
    cols = np.array([codecs.get(r.codec, "") for r in kept])
    asv_cols = None if asv is None else np.array([codecs.get(c, "") for c in asv.codecs])
    eer, tdcf = _condition_tables(values, is_bona, np.array(rows), cols, row_names,
                                  tuple(codecs.values()), asv, asv_cols)
    report = _common(f"{track.lower()}2021", values, is_bona)
    report.update(subset=subset, eer_percent=eer[POOLED][POOLED],
                  eer_percent_by_codec={c: eer[POOLED][c] for c in codecs.values()},
                  **{f"eer_percent_by_{row_key}": {r: eer[r][POOLED] for r in row_names}},
                  eer_percent_table=eer)
    if track == "LA":
        report["per_attack_eer_percent"] = report["eer_percent_by_attack"]
        if asv is not None:
            report.update(min_tdcf=tdcf[POOLED][POOLED],
                          min_tdcf_by_attack={r: tdcf[r][POOLED] for r in row_names},
                          min_tdcf_by_codec={c: tdcf[POOLED][c] for c in codecs.values()},
                          min_tdcf_table=tdcf)
    return report


# --------------------------------------------------------------------------- ASVspoof 5, ITW

_DCF_METRICS: dict[str, Callable] = {
    "min_dcf": metrics.min_dcf,
    "act_dcf": metrics.act_dcf,
    "cllr_bits": metrics.cllr,
    "eer_percent": lambda b, s: 100 * metrics.compute_eer(b, s)[0],
}


def report_asvspoof5(records: Sequence[Any], values: np.ndarray) -> dict:
    """ASVspoof 5 track 1 report: min DCF, actual DCF, Cllr and EER, pooled, and by attack
    (pooled over codecs) and codec (pooled over attacks) when the records carry them."""
    values = np.asarray(values, dtype=np.float64)
    is_bona = _labels(records)
    report = _common("asvspoof5", values, is_bona)
    bona, spoof = values[is_bona], values[~is_bona]
    for name, func in _DCF_METRICS.items():
        report[name] = _or_none(func, bona, spoof)
    attacks = np.array([r.attack for r in records], dtype=object)
    codecs = np.array([r.codec for r in records], dtype=object)
    by_attack = sorted({a for a, b in zip(attacks, is_bona) if not b and a is not None})
    by_codec = sorted({c for c in codecs if c is not None})
    for name, func in _DCF_METRICS.items():
        report[f"{name}_by_attack"] = {a: _or_none(func, bona, values[~is_bona & (attacks == a)])
                                       for a in by_attack}
        report[f"{name}_by_codec"] = {c: _or_none(func, values[is_bona & (codecs == c)],
                                                  values[~is_bona & (codecs == c)])
                                      for c in by_codec}
    report["per_attack_eer_percent"] = report["eer_percent_by_attack"]
    return report


def report_itw(records: Sequence[Any], values: np.ndarray) -> dict:
    """In-the-Wild report: the pooled EER (the corpus names no attacks or conditions)."""
    return _common("itw", np.asarray(values, dtype=np.float64), _labels(records))


def corpus_report(corpus: str, records: Sequence[Any], values: np.ndarray, *,
                  subset: str = "eval", asv: Any = None) -> dict:
    """The report of ``corpus`` for trials ``records`` with scores ``values`` (N,).

    ``asv``: la2019, the ASV score file (or None); la2021, an :class:`Asv2021` (or None);
    ignored otherwise. ``subset``: the ASVspoof 2021 subset the metrics are computed on.
    """
    if corpus == "la2019":
        return report_la2019(records, values, asv)
    if corpus in ("la2021", "df2021"):
        return report_2021(corpus[:2].upper(), records, values, subset, asv)
    if corpus == "asvspoof5":
        return report_asvspoof5(records, values)
    if corpus == "itw":
        return report_itw(records, values)
    get_corpus(corpus)  # raises, listing the valid names
    raise AssertionError(corpus)  # a registered corpus without a report


# --------------------------------------------------------------------------- files

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


def _2021_from_files(corpus: str, scores: PathLike, keys: PathLike, subset: str,
                     asv_scores: PathLike | None) -> dict:
    cm_keys = cm_keys_file(get_corpus(corpus), keys)
    records = read_2021_metadata(cm_keys, track=corpus[:2].upper(), subset=None)
    kept, values = join_file_scores(records, read_trial_scores(scores), cm_keys,
                                    lambda r: r.subset == subset)
    asv = None
    if corpus == "la2021":
        found = asv_files_2021(cm_keys)
        if found is not None or asv_scores is not None:
            if found is None:
                raise DataError(f"no ASV trial_metadata.txt next to {cm_keys} (in ../../ASV/); "
                                "pass the keys folder as the organisers ship it")
            asv = load_asv_2021(found[0], asv_scores or found[1], subset)
    return _reported(scores, lambda: report_2021(corpus[:2].upper(), kept, values, subset, asv))


def _reported(scores: PathLike, make: Callable[[], dict]) -> dict:
    """``make()``, with a DataError naming the score file where the maths objects."""
    try:
        return make()
    except DataError as exc:
        raise DataError(f"{scores}: {exc}") from None


def metrics_from_files(corpus: str, scores: PathLike, keys: PathLike | None = None,
                       subset: str = "eval", asv_scores: PathLike | None = None) -> dict:
    """`python -m aasist metrics`: the official report of a score file against its keys.

    ``keys``: la2021/df2021, the CM ``trial_metadata.txt`` or the keys folder holding it
    (la2021 also reads the organisers' ASV files next to it; ``asv_scores`` replaces their
    score file); itw, ``meta.csv``; asvspoof5, the 2-column key or the full protocol;
    la2019, unused (its score files carry their keys). ``asv_scores`` for la2019: the
    organisers' ASV score file (None: no t-DCF).
    """
    get_corpus(corpus)
    if corpus == "la2019":
        return {"corpus": "la2019", **score_report(scores, asv_scores)}
    if keys is None:
        raise ConfigError(f"--corpus {corpus} needs --keys (the trials' labels)")
    if corpus in ("la2021", "df2021"):
        return _2021_from_files(corpus, scores, keys, subset, asv_scores)
    if corpus == "asvspoof5":
        records = read_asvspoof5_protocol(keys)
        kept, values = join_file_scores(records, read_asvspoof5_scores(scores), keys)
        return _reported(scores, lambda: report_asvspoof5(kept, values))
    records = read_in_the_wild(cm_keys_file(get_corpus(corpus), keys))
    kept, values = join_file_scores(records, read_trial_scores(scores), keys)
    return _reported(scores, lambda: report_itw(kept, values))


# --------------------------------------------------------------------------- text

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


def format_corpus_report(report: Mapping[str, Any]) -> str:
    """A plain-text rendering of any corpus report (no trailing newline)."""
    if report.get("corpus", "la2019") == "la2019":
        return metrics.format_report(report)
    title = get_corpus(report["corpus"]).title
    subset = f", {report['subset']} subset" if report.get("subset") else ""
    lines = [f"{title}{subset}: {report['n_bonafide']} bona fide, {report['n_spoof']} spoof"]
    for key, spec, unit in (("min_dcf", ".5f", ""), ("act_dcf", ".5f", ""),
                            ("cllr_bits", ".5f", " bits"), ("eer_percent", ".4f", " %"),
                            ("min_tdcf", ".6f", "")):
        if key in report and (key != "min_tdcf" or report[key] is not None):
            lines.append(f"{key:<24}{_fmt(report[key], spec)}{unit}")
    return "\n".join(lines + _breakdowns(report))


__all__ = ["Asv2021", "corpus_report", "format_corpus_report", "join_file_scores",
           "load_asv_2021", "metrics_from_files", "report_2021", "report_asvspoof5",
           "report_itw", "report_la2019", "score_report"]
