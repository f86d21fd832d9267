"""Calibration and fusion on public score sets: fit on one part, judge on the other.

    python -m experiments.calibration --rawgat-dir PATH/TO/RawGAT-ST-antispoofing \\
        [--asvspoof5-dir PATH/TO/asvspoof5] [--json OUT]

Score sets (read from the authors' repositories, never copied into this one):

* RawGAT-ST mul / add / cat on ASVspoof 2019 LA eval (``Pre_trained_models/*/Scores.txt``,
  eurecom-asp/RawGAT-ST-antispoofing, 71,237 trials each);
* the example CM scores of the ASVspoof 5 organisers' score-fusion tool, with their labels
  (``Tool-score-fusion/dev_scores_label.csv``, asvspoof-challenge/asvspoof5).

Calibration: each set is split in two halves by trial (a fixed hash of the id, so both
halves hold every attack); the calibration is fitted on one half and judged on the other
(EER, min/actual DCF at the ASVspoof 5 costs, Cllr, min Cllr), raw scores read as LLRs
against calibrated ones. Fusion: the three RawGAT-ST systems fitted on the bona fide half
A plus attacks A07-A13 and judged on half B plus attacks A14-A19 (attacks the fusion never
saw), against each system calibrated the same way.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from aasist import metrics
from aasist.calibrate import fit, join_score_files
from aasist.cli import run_with_errors


def _half(utt_ids) -> np.ndarray:
    """(N,) bool: a fixed pseudo-random half of the trials (by the id's hash)."""
    return np.array([hashlib.md5(u.encode()).digest()[0] % 2 == 0 for u in utt_ids])


def _judge(bona: np.ndarray, spoof: np.ndarray) -> dict:
    return {"eer_percent": 100 * metrics.compute_eer(bona, spoof)[0], "n": int(bona.size + spoof.size),
            **metrics.calibration_report(bona, spoof)}


def calibration_row(name: str, ids, scores: np.ndarray, is_bona: np.ndarray) -> dict:
    """Fit on one half, judge raw and calibrated scores on the other."""
    train = _half(ids)
    cal = fit(scores[train], is_bona[train], [name])
    test = ~train
    llr = cal.llr(scores[test])
    raw = scores[test] if scores.ndim == 1 else scores[test, 0]
    return {"system": name, "weights": cal.weights, "bias": cal.bias,
            "raw": _judge(raw[is_bona[test]], raw[~is_bona[test]]),
            "calibrated": _judge(llr[is_bona[test]], llr[~is_bona[test]])}


def fusion_rows(names, ids, sources, scores: np.ndarray, is_bona: np.ndarray) -> list[dict]:
    """Fit on bona half A + attacks A07-A13, judge on bona half B + attacks A14-A19."""
    half = _half(ids)
    early = np.array([s in {f"A{i:02d}" for i in range(7, 14)} for s in sources])
    train = np.where(is_bona, half, early)
    test = np.where(is_bona, ~half, ~early & ~is_bona)
    rows = []
    for i, name in enumerate(names):
        cal = fit(scores[train, i], is_bona[train], [name])
        llr = cal.llr(scores[test, i])
        rows.append({"system": name, **_judge(llr[is_bona[test]], llr[~is_bona[test]])})
    cal = fit(scores[train], is_bona[train], list(names))
    llr = cal.llr(scores[test])
    rows.append({"system": "fusion of " + " + ".join(names), "weights": cal.weights,
                 **_judge(llr[is_bona[test]], llr[~is_bona[test]])})
    return rows


def _asvspoof5(path: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    ids = [f"D_{i:06d}" for i in range(len(rows))]
    scores = np.array([float(r["cm_score"]) for r in rows])
    # 1 target, 2 non-target (both bona fide), 0 spoof (the README says 3; the file and its
    # util_metric.py use 0)
    is_bona = np.array([float(r["sasv_label"]) in (1.0, 2.0) for r in rows])
    return ids, scores, is_bona


def _table(rows, columns) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(f"{row[c]:.4f}" if isinstance(row[c], float) else str(row[c])
                                        for c in columns) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rawgat-dir", type=Path, required=True)
    parser.add_argument("--asvspoof5-dir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    def run() -> None:
        variants = ("mul", "add", "cat")
        files = [args.rawgat_dir / "Pre_trained_models" / f"RawGAT_ST_{v}" / "Scores.txt"
                 for v in variants]
        ids, sources, keys, scores = join_score_files(files)
        is_bona = np.array([k == "bonafide" for k in keys])
        names = [f"RawGAT-ST-{v}" for v in variants]
        cal_rows = [calibration_row(f"{n} (LA 2019 eval)", ids, scores[:, i], is_bona)
                    for i, n in enumerate(names)]
        if args.asvspoof5_dir:
            a_ids, a_scores, a_bona = _asvspoof5(args.asvspoof5_dir / "Tool-score-fusion" /
                                                 "dev_scores_label.csv")
            cal_rows.append(calibration_row("SASV example CM (LA 2019 dev trials)", a_ids,
                                            a_scores, a_bona))
        flat = [{"system": r["system"], "scores": kind, **r[kind]} for r in cal_rows
                for kind in ("raw", "calibrated")]
        print("## calibration: fitted on one half, judged on the other\n")
        print(_table(flat, ["system", "scores", "n", "eer_percent", "min_dcf", "act_dcf",
                            "cllr_bits", "min_cllr_bits"]))
        fused = fusion_rows(names, ids, sources, scores, is_bona)
        print("\n## fusion: fitted on attacks A07-A13, judged on A14-A19\n")
        print(_table(fused, ["system", "n", "eer_percent", "min_dcf", "act_dcf", "cllr_bits"]))
        if args.json:
            args.json.write_text(json.dumps({"calibration": cal_rows, "fusion": fused},
                                            indent=2) + "\n")

    return run_with_errors(run)


if __name__ == "__main__":
    sys.exit(main())
