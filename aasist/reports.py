"""Official metric reports from files: score files and keys in, a JSON-ready dict out.

:mod:`aasist.metrics` does the maths on arrays; this module reads the files, checks that
they fit together and turns every problem, including a maths ``ValueError`` that only the
files can explain, into a :class:`~aasist.errors.DataError` that names the file.
"""
from __future__ import annotations

import os
from typing import Union

import numpy as np

from . import metrics
from .data.protocols import ASV_KEYS
from .data.scores import read_asv_scores, read_cm_scores
from .errors import DataError

PathLike = Union[str, "os.PathLike[str]"]


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


__all__ = ["score_report"]
