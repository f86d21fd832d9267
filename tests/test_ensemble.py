"""Ensembles of bundled models in predict and the Python API: `--model A,B --calibration
FUSION.json`, fitted by `aasist calibrate fit --audio LABELS.csv --model A,B` or from score
files named with `--systems`."""
from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import soundfile as sf

from aasist import Detector, Ensemble
from aasist.calibrate import Calibration, Decision
from aasist.errors import ConfigError
from conftest import DATA, run_cli

SR = 16000
PAIR = ["AASIST-L", "AASIST"]
SYSTEMS = [DATA / "calibration" / f"rawgat_{v}.txt" for v in ("mul", "add")]


def _fusion(systems=PAIR, weights=(0.5, 0.25), bias=0.1) -> Calibration:
    return Calibration(weights=list(weights), bias=bias, systems=list(systems), name="pair")


def _noise(seed: int, seconds: float = 1.0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


def test_the_llr_is_the_fusion_of_what_each_model_alone_scores():
    x = _noise(0)
    fused = Ensemble(PAIR, _fusion(), vad=False).score(x, sample_rate=SR)
    alone = [Detector(model=m, vad=False).score(x, sample_rate=SR)["score"] for m in PAIR]
    assert fused["scores"] == dict(zip(PAIR, alone))
    assert fused["llr"] == pytest.approx(0.5 * alone[0] + 0.25 * alone[1] + 0.1, abs=1e-12)
    assert fused["label"] == ("bonafide" if fused["llr"] >= Decision().threshold else "spoof")
    assert fused["model"] == "AASIST-L+AASIST" and fused["calibration"] == "pair"
    assert "score" not in fused and "p_bonafide" not in fused  # those belong to one model


@pytest.mark.parametrize("models,calibration,message", [
    (PAIR, None, "--calibration FUSION.json"),
    (PAIR, _fusion(["AASIST", "AASIST-L"]), "fuses AASIST,AASIST-L, not AASIST-L,AASIST"),
    (PAIR, Calibration(weights=[1.0], bias=0.0, systems=["AASIST-L"], name="one"), "fuses AASIST-L,"),
    (["AASIST-L"], _fusion(), "two or more"),
    (["AASIST-L", "AASIST-L"], _fusion(), "two or more"),
])
def test_an_ensemble_needs_the_fusion_of_exactly_its_models(models, calibration, message):
    with pytest.raises(ConfigError, match=message):
        Ensemble(models, calibration)


@pytest.mark.parametrize("command,extra,message", [
    ("stream", [], "for `aasist predict`"),
    ("predict", ["--threshold", "0"], "not --config, --weights, --set or --threshold"),
    ("predict", ["--timeline"], "one --model for a timeline"),
])
def test_ensemble_options_that_do_not_apply_are_one_line_errors(tmp_path, capsys, command, extra, message):
    _fusion().save(tmp_path / "pair.json")
    sf.write(tmp_path / "x.wav", _noise(1), SR)
    args = [command, "--model", "AASIST-L,AASIST", "--calibration", tmp_path / "pair.json", *extra]
    result = run_cli(capsys, *args, *([tmp_path / "x.wav"] if command == "predict" else []))
    assert result.returncode == 1 and result.stderr.startswith("error:") and message in result.stderr
    assert result.stderr.count("\n") == 1


def test_score_files_name_their_systems_for_an_ensemble(tmp_path, capsys):
    out = tmp_path / "fusion.json"
    result = run_cli(capsys, "calibrate", "fit", *SYSTEMS, "--systems", "RawGAT-ST-mul,RawGAT-ST-add",
                     "--out", out)
    assert result.returncode == 0, result.stderr
    assert Calibration.load(out).systems == ["RawGAT-ST-mul", "RawGAT-ST-add"]
    wrong = run_cli(capsys, "calibrate", "fit", *SYSTEMS, "--systems", "RawGAT-ST-mul", "--out", out)
    assert wrong.returncode == 1 and "one name per file" in wrong.stderr


@pytest.mark.slow
def test_fit_a_fusion_on_labelled_audio_then_predict_with_it(tmp_path, capsys):
    rows = ["path,label"]
    for i in range(4):
        label = "bonafide" if i % 2 else "spoof"
        sf.write(tmp_path / f"{i}.wav", _noise(10 + i, 1.0 + 0.5 * i), SR)
        rows.append(f"{i}.wav,{label}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    fusion = tmp_path / "pair.json"
    fitted = run_cli(capsys, "calibrate", "fit", "--audio", tmp_path / "labels.csv", "--model",
                     "AASIST-L,AASIST", "--no-vad", "--out", fusion)
    assert fitted.returncode == 0, fitted.stderr
    cal = Calibration.load(fusion)
    assert cal.systems == PAIR and len(cal.weights) == 2 and cal.counts == {"bonafide": 2, "spoof": 2}

    files = [tmp_path / f"{i}.wav" for i in range(4)]
    (tmp_path / "broken.wav").write_bytes(b"RIFF not really")
    lines = run_cli(capsys, "predict", *files, tmp_path / "broken.wav", "--model", "AASIST-L,AASIST", "--calibration", fusion,
                    "--no-vad", "--quiet")
    assert lines.returncode == 1 and "1 file(s) could not be scored" in lines.stderr
    *results, broken = [json.loads(line) for line in lines.stdout.splitlines()]
    assert [r["path"] for r in results] == [str(f) for f in files]
    assert set(broken) == {"path", "error"} and broken["error"].count("cannot decode") == 1
    for r in results:
        assert r["model"] == "AASIST-L+AASIST" and set(r["scores"]) == set(PAIR)
        assert r["llr"] == pytest.approx(float(cal.llr(np.array([[r["scores"][m] for m in PAIR]]))[0]))
    as_csv = run_cli(capsys, "predict", files[0], "--model", "AASIST-L,AASIST", "--calibration", fusion,
                     "--no-vad", "--quiet", "--format", "csv")
    (row,) = csv.DictReader(io.StringIO(as_csv.stdout))
    # ~1e-6 apart: windows batched with other files' round differently (predict's "Bits")
    assert json.loads(row["scores"]) == pytest.approx(results[0]["scores"], abs=1e-4)
    assert row["score"] == "" and float(row["llr"]) == pytest.approx(results[0]["llr"], rel=1e-4)
