"""Test fixtures of calibration: a subset of public score files, and reference min Cllr values.

    python -m scripts.make_calibration_fixtures --rawgat-dir PATH/TO/RawGAT-ST-antispoofing

Writes ``tests/data/calibration/rawgat_{mul,add,cat}.txt``: the same 1,500 bona fide and
4,500 spoof trials (picked by a hash of the id) of the RawGAT-ST LA 2019 eval score files
(eurecom-asp/RawGAT-ST-antispoofing, ``Pre_trained_models/RawGAT_ST_*/Scores.txt``, MIT
licence), and ``expected.json``: each file's min Cllr by a reference pool-adjacent-violators
fit, scikit-learn's ``IsotonicRegression`` (``pip install scikit-learn``; not a dependency
of the package).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "calibration"
N_BONA, N_SPOOF = 1500, 4500


def reference_min_cllr(scores: np.ndarray, is_bona: np.ndarray) -> float:
    from sklearn.isotonic import IsotonicRegression  # not a dependency

    posterior = IsotonicRegression(y_min=0.0, y_max=1.0).fit_transform(scores, is_bona.astype(float))
    prior = np.log(is_bona.sum() / (~is_bona).sum())
    with np.errstate(divide="ignore"):
        llr = np.log(posterior) - np.log1p(-posterior) - prior
    bona = np.where(np.isposinf(llr[is_bona]), 0.0, np.logaddexp(0, -llr[is_bona]))
    spoof = np.where(np.isneginf(llr[~is_bona]), 0.0, np.logaddexp(0, llr[~is_bona]))
    return float(0.5 * (bona.mean() + spoof.mean()) / np.log(2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rawgat-dir", type=Path, required=True)
    args = parser.parse_args()
    files = {v: args.rawgat_dir / "Pre_trained_models" / f"RawGAT_ST_{v}" / "Scores.txt"
             for v in ("mul", "add", "cat")}
    lines = {v: p.read_text().splitlines() for v, p in files.items()}
    first = [line.split() for line in lines["mul"]]
    order = sorted(first, key=lambda c: hashlib.md5(c[0].encode()).hexdigest())
    keep = {c[0] for c in [c for c in order if c[2] == "bonafide"][:N_BONA]}
    keep |= {c[0] for c in [c for c in order if c[2] == "spoof"][:N_SPOOF]}
    OUT.mkdir(parents=True, exist_ok=True)
    expected = {"_generator": "python -m scripts.make_calibration_fixtures; sklearn "
                f"{__import__('sklearn').__version__}; RawGAT-ST commit "
                + subprocess.run(["git", "rev-parse", "HEAD"], cwd=args.rawgat_dir,
                                 capture_output=True, text=True).stdout.strip()}
    for v, text in lines.items():
        rows = [line for line in text if line.split()[0] in keep]
        (OUT / f"rawgat_{v}.txt").write_text("\n".join(rows) + "\n")
        cols = [r.split() for r in rows]
        scores = np.array([float(c[3]) for c in cols])
        is_bona = np.array([c[2] == "bonafide" for c in cols])
        expected[f"rawgat_{v}"] = {"min_cllr_bits": reference_min_cllr(scores, is_bona),
                                   "n_bonafide": int(is_bona.sum()), "n_spoof": int((~is_bona).sum())}
    (OUT / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")
    print(json.dumps(expected, indent=2))


if __name__ == "__main__":
    main()
