#!/usr/bin/env python
"""Generate the metric test fixtures and compute their expected values with the official
evaluation packages (they are called, never copied; needs numpy and pandas).

Usage (checkouts of https://github.com/asvspoof-challenge/2021 and .../asvspoof5):
    python -m scripts.make_metric_fixtures --asvspoof2021 PATH/TO/2021 --asvspoof5 PATH/TO/asvspoof5

Writes, under tests/data/:
  metrics_2021/keys/{LA,DF}/...   generated keys in the organisers' layout (CM and, for LA,
                                  ASV trial_metadata.txt and ASVTorch_Kaldi/score.txt)
  metrics_2021/{la,df}_scores.txt generated CM scores (`trial score`)
  metrics_2021/expected_*.json    eval-package main.evaluation_API tables (LA: C012
                                  recomputed from the ASV scores, as with --recompute-c012)
  metrics_asvspoof5/              a generated full protocol, the 2-column key, scores and
                                  evaluation-package calculate_minDCF_EER_CLLR_actDCF(_full)
  la_eval_like/expected_2021.json the 2021 min t-DCF of the 2019 reference set

Score sets are seeded, have ties (rounded scores) and are badly calibrated (shifted and
scaled far from log-likelihood ratios), with conditions of very different difficulty.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
LA_ATTACKS = [f"A{i:02d}" for i in range(7, 20)]
LA_CODECS = ["none", "alaw", "pstn", "g722", "ulaw", "gsm", "opus"]
DF_CODECS = ["nocodec", "low_mp3", "high_mp3", "low_m4a", "high_m4a", "low_ogg", "high_ogg",
             "mp3m4a", "oggm4a"]
DF_VOCODERS = ["traditional_vocoder", "waveform_concatenation", "neural_vocoder_autoregressive",
               "neural_vocoder_nonautoregressive", "unknown"]
SUBSETS = ["eval"] * 7 + ["progress"] * 2 + ["hidden"]


def _official(path: Path, *modules: str) -> list:
    """Import the official package's modules from ``path`` (not a dependency of ours)."""
    sys.path.insert(0, str(path))
    return [importlib.import_module(m) for m in modules]


def _commit(path: Path) -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, capture_output=True,
                          text=True, check=True).stdout.strip()


def _write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))


def _score(rng, n: int, mean, spread: float) -> np.ndarray:
    """Badly calibrated scores (x 7 + 20) rounded to 0.5: ties between and within classes."""
    return np.round((rng.normal(mean, spread, n) * 7 + 20) * 2) / 2


def _nan_to_none(value: float):
    return None if np.isnan(value) else float(value)


def _table(array: np.ndarray, rows: list[str], cols: list[str], scale: float = 1.0) -> dict:
    return {r: {c: _nan_to_none(array[i, j] * scale) for j, c in enumerate(cols)}
            for i, r in enumerate(rows)}


# --------------------------------------------------------------------------- ASVspoof 2021

def make_la_2021(root: Path, rng) -> None:
    n = 2000
    keys = np.where(rng.random(n) < 0.12, "bonafide", "spoof")
    codec = rng.integers(0, 7, n)
    attack = rng.integers(0, 13, n)
    lines = [f"LA_{rng.integers(1, 90):04d} LA_E_{1000000 + i} {LA_CODECS[codec[i]]} "
             f"{rng.choice(['ita_tx', 'sin_tx', 'loc_tx', 'mad_tx'])} "
             f"{'bonafide' if keys[i] == 'bonafide' else LA_ATTACKS[attack[i]]} {keys[i]} "
             f"{rng.choice(['notrim', 'trim'])} {rng.choice(SUBSETS)}" for i in range(n)]
    _write(root / "keys/LA/CM/trial_metadata.txt", lines)
    # codec C6/C7 and attacks A16-A19 are hard; bona fide C3 is shifted down
    mean = np.where(keys == "bonafide", 1.5 - (codec == 2), -1.5 + 0.4 * (attack > 8)
                    + 0.5 * (codec >= 5))
    scores = _score(rng, n, mean, 1.6)
    _write(root / "la_scores.txt", [f"LA_E_{1000000 + i} {float(scores[i])!r}" for i in range(n)])

    m = 2500
    asv_keys = rng.choice(["target", "nontarget", "spoof"], m, p=[0.4, 0.3, 0.3])
    asv_lines = [f"LA_{rng.integers(1, 90):04d} LA_E_{1000000 + rng.integers(0, n)} "
                 f"{rng.choice(LA_CODECS)} loc_tx "
                 f"{rng.choice(LA_ATTACKS) if k == 'spoof' else 'bonafide'} {k} notrim "
                 f"{rng.choice(SUBSETS)}" for k in asv_keys]
    _write(root / "keys/LA/ASV/trial_metadata.txt", asv_lines)
    mean = {"target": 4.0, "nontarget": -3.0, "spoof": 1.0}
    asv = np.round([rng.normal(mean[k], 2.0) for k in asv_keys], 2)
    _write(root / "keys/LA/ASV/ASVTorch_Kaldi/score.txt",
           [f"{line.split()[0]} {line.split()[1]} {float(s)!r}" for line, s in zip(asv_lines, asv)])


def make_df_2021(root: Path, rng) -> None:
    n = 2500
    keys = np.where(rng.random(n) < 0.15, "bonafide", "spoof")
    codec = rng.integers(0, 9, n)
    vocoder = rng.integers(0, 5, n)
    lines = [f"LA_{rng.integers(1, 90):04d} DF_E_{2000000 + i} {DF_CODECS[codec[i]]} "
             f"{rng.choice(['asvspoof', 'vcc2018', 'vcc2020'])} "
             f"{'bonafide' if keys[i] == 'bonafide' else rng.choice(LA_ATTACKS + ['Task1-team20'])} "
             f"{keys[i]} notrim {rng.choice(SUBSETS)} "
             f"{'bonafide' if keys[i] == 'bonafide' else DF_VOCODERS[vocoder[i]]} - - - -"
             for i in range(n)]
    _write(root / "keys/DF/CM/trial_metadata.txt", lines)
    mean = np.where(keys == "bonafide", 1.0 - 0.3 * (codec % 3), -1.0 + 0.6 * (vocoder == 2)
                    + 0.3 * (codec >= 7))
    scores = _score(rng, n, mean, 1.8)
    _write(root / "df_scores.txt", [f"DF_E_{2000000 + i} {float(scores[i])!r}" for i in range(n)])


def expected_2021(package: Path, root: Path, commit: str) -> None:
    main, config = _official(package / "eval-package", "main", "config")
    generator = (f"scripts/make_metric_fixtures.py; asvspoof-challenge/2021 eval-package "
                 f"main.evaluation_API at commit {commit}")
    for track, scores, subsets in (("LA", "la_scores.txt", ("eval", "progress")),
                                   ("DF", "df_scores.txt", ("eval",))):
        cfg = config.ConfigLA() if track == "LA" else config.ConfigDF()
        rows = [r if r != "Pooled" else "pooled" for r in cfg.factor_1_list]
        cols = [c if c != "Pooled" else "pooled" for c in cfg.factor_2_tag_list]
        for subset in subsets:
            with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
                tdcf, eer = main.evaluation_API(str(root / scores), track, subset,
                                                str(root / "keys"), track == "LA", None,
                                                str(Path(tmp) / "c012.npy") if track == "LA" else None)
            out = {"_generator": generator, "subset": subset,
                   "eer_percent_table": _table(eer, rows, cols, 100.0)}
            if track == "LA":
                out["min_tdcf_table"] = _table(tdcf, rows, cols)
            (root / f"expected_{track.lower()}_{subset}.json").write_text(
                json.dumps(out, indent=1) + "\n")


def expected_la_eval_like(package: Path, commit: str) -> None:
    eval_wrapper, config = _official(package / "eval-package", "eval_wrapper", "config")
    cm = np.genfromtxt(DATA / "la_eval_like" / "cm_scores.txt", dtype=str)
    asv = np.genfromtxt(DATA / "la_eval_like" / "asv_scores.txt", dtype=str)
    cm_scores, asv_scores = cm[:, 3].astype(float), asv[:, 2].astype(float)
    c012 = eval_wrapper.get_tDCF_C012_from_asv_scores(
        *(asv_scores[asv[:, 1] == k] for k in ("target", "nontarget", "spoof")), config.cost_model)
    tdcf, eer = eval_wrapper.get_mintDCF_eer(cm_scores[cm[:, 2] == "bonafide"],
                                             cm_scores[cm[:, 2] == "spoof"], *c012)
    out = {"_generator": "scripts/make_metric_fixtures.py: eval_wrapper.get_tDCF_C012_from_asv_scores "
                         "and get_mintDCF_eer of asvspoof-challenge/2021 eval-package (commit "
                         f"{commit}) on cm_scores.txt and asv_scores.txt",
           "min_tdcf_2021": float(tdcf), "eer_percent": float(eer) * 100}
    (DATA / "la_eval_like" / "expected_2021.json").write_text(json.dumps(out, indent=1) + "\n")


# --------------------------------------------------------------------------- ASVspoof 5

def make_asvspoof5(root: Path, rng) -> list[tuple]:
    n = 2500
    rows = []
    for i in range(n):
        bona = rng.random() < 0.2
        coded = rng.random() < 0.7
        codec = f"C{rng.integers(1, 12):02d}" if coded else "-"
        attack = "bonafide" if bona else f"A{rng.integers(17, 33):02d}"
        rows.append((f"E_{rng.integers(1, 400):04d}", f"E_{i:010d}", rng.choice(["F", "M"]),
                     codec, str(rng.integers(1, 6)) if coded else "0",
                     f"E_{rng.integers(0, n):010d}" if coded else "-",
                     "-" if bona else f"AC{rng.integers(1, 4)}", attack,
                     "bonafide" if bona else "spoof", "-"))
    _write(root / "ASVspoof5.eval.track_1.tsv", [" ".join(r) for r in rows])
    _write(root / "keys.tsv", ["filename\tcm-label"] + [f"{r[1]}\t{r[8]}" for r in rows])
    mean = np.array([2.0 - 0.2 * int(r[3][1:] if r[3] != "-" else 0) if r[8] == "bonafide"
                     else -2.0 + 0.15 * (int(r[7][1:]) - 17) for r in rows])
    scores = np.round(rng.normal(mean, 2.5) * 3 + 5, 1)  # LLRs shifted by +5 and scaled: miscalibrated
    _write(root / "scores.tsv", ["filename\tcm-score"] + [f"{r[1]}\t{float(s)!r}" for r, s in zip(rows, scores)])
    return rows


def expected_asvspoof5(package: Path, root: Path, rows: list[tuple], commit: str) -> None:
    import pandas as pd  # not a dependency: the official package needs it

    calc, calc_full, util = _official(package / "evaluation-package", "calculate_metrics",
                                      "calculate_metrics_full", "util")
    scores, keys = util.load_cm_scores_keys(str(root / "scores.tsv"), str(root / "keys.tsv"))
    min_dcf, eer, cllr, act = calc.calculate_minDCF_EER_CLLR_actDCF(scores, keys, "", printout=False)
    table = pd.read_csv(root / "scores.tsv", sep="\t").set_index("filename")
    table = table.join(pd.DataFrame({"filename": [r[1] for r in rows], "cm_label": [r[8] for r in rows],
                                     "attack_anon": [r[7] for r in rows], "codec": [r[3] for r in rows]}
                                    ).set_index("filename"))
    with contextlib.redirect_stdout(io.StringIO()):
        attacks, codecs, *mats = calc_full.calculate_minDCF_EER_CLLR_actDCF_full(table)
    out = {"_generator": f"scripts/make_metric_fixtures.py; asvspoof-challenge/asvspoof5 "
                         f"evaluation-package calculate_minDCF_EER_CLLR_actDCF (pooled, with "
                         f"keys.tsv) and calculate_minDCF_EER_CLLR_actDCF_full (breakdowns) at "
                         f"commit {commit}",
           "min_dcf": float(min_dcf), "act_dcf": float(act), "cllr_bits": float(cllr),
           "eer_percent": float(eer) * 100}
    for name, mat, scale in zip(("min_dcf", "eer_percent", "cllr_bits", "act_dcf"), mats,
                                (1, 100, 1, 1)):
        out[f"{name}_by_attack"] = {a: _nan_to_none(mat[i, 0] * scale)
                                    for i, a in enumerate(attacks) if i}
        out[f"{name}_by_codec"] = {c: _nan_to_none(mat[0, j] * scale)
                                   for j, c in enumerate(codecs) if j}
    (root / "expected.json").write_text(json.dumps(out, indent=1) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--asvspoof2021", required=True, type=Path,
                        help="checkout of asvspoof-challenge/2021")
    parser.add_argument("--asvspoof5", required=True, type=Path,
                        help="checkout of asvspoof-challenge/asvspoof5")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(2021)
    root21 = DATA / "metrics_2021"
    make_la_2021(root21, rng)
    make_df_2021(root21, rng)
    commit21 = _commit(args.asvspoof2021)
    expected_2021(args.asvspoof2021, root21, commit21)
    expected_la_eval_like(args.asvspoof2021, commit21)
    root5 = DATA / "metrics_asvspoof5"
    rows = make_asvspoof5(root5, np.random.default_rng(5))
    expected_asvspoof5(args.asvspoof5, root5, rows, _commit(args.asvspoof5))


if __name__ == "__main__":
    main()
