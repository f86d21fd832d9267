"""ASVspoof 2019 LA: the corpus AASIST was trained and published on.

Layout (the extracted ``LA.zip``, the folder ``--root`` names)::

    LA/ASVspoof2019_LA_{train,dev,eval}/flac/<utt>.flac
    LA/ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.{train.trn,dev.trl,eval.trl}.txt
    LA/ASVspoof2019_LA_asv_scores/ASVspoof2019.LA.asv.{dev,eval}.gi.trl.scores.txt

Score file: ``utt_id source key score``. Report: EER, the 2019 (legacy) and 2021 t-DCF with
the organisers' ASV scores, per-attack EER (:func:`aasist.metrics.report_from_arrays`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from ... import metrics
from ...errors import DataError
from ..protocols import ASV_KEYS, la_paths, read_cm_protocol
from ..scores import read_asv_scores, read_cm_scores
from .base import Archive, Corpus, PathLike, SplitFiles


def report_la2019(records: Sequence[Any], values: np.ndarray,
                  asv_path: PathLike | None = None) -> dict:
    """2019 LA report (EER, t-DCF when ASV scores are given, per-attack EER) of joined scores."""
    is_bona = np.array([r.key == "bonafide" for r in records], dtype=bool)
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


@dataclass(frozen=True)
class LA2019(Corpus):
    """ASVspoof 2019 LA (see the module doc)."""

    def split_files(self, root: PathLike, split: str) -> SplitFiles:
        self.check_split(split)
        paths = la_paths(root, split)
        return SplitFiles(paths.protocol, paths.flac_dir, ".flac")

    def reader(self, path: PathLike) -> list:
        return read_cm_protocol(path)

    def tag(self, split: str) -> str:
        return split  # the default corpus: folder and cache names keep their short form

    def asv_for(self, root: PathLike, split: str, subset: str = "eval") -> Optional[Path]:
        """The organisers' ASV score file of ``split`` (None for train, or when absent)."""
        asv = la_paths(root, split).asv_scores
        return asv if asv is not None and asv.is_file() else None

    def report(self, records, values, *, subset="eval", asv=None) -> dict:
        return report_la2019(records, values, asv)

    def metrics_from_files(self, scores, keys=None, subset="eval", asv_scores=None) -> dict:
        """Its score files carry their keys: ``keys`` is unused; ``asv_scores`` (the
        organisers' ASV score file) adds the t-DCF."""
        return {"corpus": self.name, **score_report(scores, asv_scores)}

    def format_report(self, report: Mapping[str, Any]) -> str:
        return metrics.format_report(report)

    def make_mini(self, dest, seed=0, sizes=None) -> Path:
        from ..mini import make_mini  # the embedded demo corpus is in this layout

        return make_mini(dest, seed=seed, sizes=self._mini_sizes(sizes), progress=False)


CORPUS = LA2019(
    name="la2019", title="ASVspoof 2019 LA", root="LA", extract_to=".",
    archives=(Archive("LA.zip", "https://datashare.ed.ac.uk/bitstream/handle/10283/3336/"
                      "LA.zip?sequence=3&isAllowed=y"),),
    splits=("train", "dev", "eval"), score_format="cm4",
    protocols={}, audio={}, audio_ext=".flac",
    counts={"train": 25380, "dev": 24844, "eval": 71237}, archive_top="LA",
    train_bonafide=2580 / 25380,
    mini_sizes={"train": (4, 8), "dev": (4, 8), "eval": (4, 10)})

__all__ = ["CORPUS", "LA2019", "report_la2019", "score_report"]
