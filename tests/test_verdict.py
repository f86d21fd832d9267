"""Calibrated, speech-only verdicts in predict, stream and the Python API: llr, p_spoof,
model, calibration, no_speech."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import soundfile as sf

from aasist import Detector
from aasist.calibrate import Decision, fit
from aasist.data.mini import synthesize_utterance
from conftest import run_cli

SR = 16000


def _voice(index: int = 0, attack=None) -> np.ndarray:
    """A second or two of the mini corpus's synthetic voice, which Silero takes for speech."""
    x = synthesize_utterance(0, "eval", index, 3, attack).astype(np.float32)
    return 0.5 * x / np.abs(x).max()


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    voice = _voice()
    files = {"speech": voice,
             "speech_then_silence": np.concatenate([voice, np.zeros(10 * SR, np.float32)]),
             "silence_around": np.concatenate([np.zeros(3 * SR, np.float32), voice,
                                               np.zeros(3 * SR, np.float32)]),
             "silence": np.zeros(3 * SR, np.float32)}
    for name, x in files.items():
        sf.write(folder / f"{name}.wav", x, SR, subtype="PCM_16")
    return {name: folder / f"{name}.wav" for name in files}


@pytest.fixture(scope="module")
def detector():
    return Detector()  # the bundled official AASIST-L, voice activity detection on


def test_results_carry_llr_p_spoof_model_and_calibration(detector, clips):
    r = detector.score(clips["speech"])
    assert {"llr", "p_spoof", "model", "calibration", "speech_s"} <= set(r)
    assert r["model"] == "AASIST-L" and r["calibration"] == "uncalibrated"
    assert r["p_spoof"] == pytest.approx(1 / (1 + math.exp(r["llr"])))
    assert r["label"] == ("bonafide" if r["llr"] >= Decision().threshold else "spoof")
    assert 0.8 < r["speech_s"] <= 1.1


@pytest.mark.slow
def test_silence_after_or_around_speech_leaves_the_verdict_of_the_speech(detector, clips):
    alone = detector.score(clips["speech"])
    for name in ("speech_then_silence", "silence_around"):
        r = detector.score(clips[name], timeline=True)
        assert r["label"] == alone["label"] and r["llr"] == pytest.approx(alone["llr"], abs=0.5)
        assert r["speech_s"] == pytest.approx(alone["speech_s"], abs=0.1)
        assert any(w["speech"] for w in r["timeline"])
        if name == "speech_then_silence":  # windows wholly in the silence hold no speech
            assert not all(w["speech"] for w in r["timeline"])
    # without the detector the silence changes the verdict's number (and may flip it)
    blind = Detector(vad=False).score(clips["speech_then_silence"])
    assert blind["llr"] != pytest.approx(alone["llr"], abs=0.5)


def test_silence_only_is_no_speech_not_spoof(detector, clips):
    r = detector.score(clips["silence"])
    assert r["label"] == "no_speech" and r["llr"] is None and r["p_spoof"] is None
    assert math.isfinite(r["score"])  # the official rule's number is still there
    assert Detector(vad=False).score(clips["silence"])["label"] in ("bonafide", "spoof")


def test_a_calibration_maps_the_score_and_sets_the_name(tmp_path, clips):
    rng = np.random.default_rng(0)
    cal = fit(np.concatenate([rng.normal(2, 1, 500), rng.normal(-2, 1, 500)]),
              np.repeat([True, False], 500), ["AASIST-L"], name="my-phones")
    det = Detector(calibration=cal, vad=False)
    r = det.score(clips["speech"])
    assert r["calibration"] == "my-phones"
    assert r["llr"] == pytest.approx(cal.weights[0] * r["score"] + cal.bias)
    assert Detector(calibration=cal, vad=False, decision=Decision(prior=0.9)).score(
        clips["speech"])["p_spoof"] > r["p_spoof"]  # a higher spoof prior, a higher posterior


def test_cli_calibration_prior_and_target_fpr(tmp_path, clips, capsys):
    scores = tmp_path / "scores.txt"
    rng = np.random.default_rng(1)
    scores.write_text("".join(f"u{i} {'-' if i % 2 else 'A07'} {'bonafide' if i % 2 else 'spoof'} "
                              f"{rng.normal(3 if i % 2 else -3, 1)}\n" for i in range(400)))
    cal = tmp_path / "phones.json"
    assert run_cli(capsys, "calibrate", "fit", scores, "--out", cal).returncode == 0
    out = run_cli(capsys, "predict", "--quiet", "--calibration", cal, "--prior", "0.2", clips["speech"])
    r = json.loads(out.stdout)
    assert out.returncode == 0 and r["calibration"] == "phones"
    assert r["p_spoof"] == pytest.approx(Decision(prior=0.2).p_spoof(r["llr"]))
    strict = run_cli(capsys, "predict", "--quiet", "--calibration", cal, "--target-fpr", "0.5",
                     clips["speech"])
    assert strict.returncode == 0, strict.stderr
    lax = run_cli(capsys, "predict", "--quiet", "--target-fpr", "0.01", clips["speech"])
    assert lax.returncode == 1 and "--target-fpr" in lax.stderr and "--calibration" in lax.stderr


def test_stream_lines_leave_out_windows_without_speech(clips, capsys):
    from aasist.stream import StreamScorer, paced

    class Clock:
        t = 0.0

        def now(self):
            return self.t

        def sleep(self, s):
            self.t += s

    det = Detector()
    clock = Clock()
    x, _ = sf.read(clips["silence_around"], dtype="float32")
    lines = list(StreamScorer(det, hop_seconds=1.0, clock=clock).run(paced(x, clock)))
    speech = [line["speech"] for line in lines]
    assert True in speech and False in speech
    for line in lines:
        assert (line["label"] == "no_speech") == (not line["speech"])
        assert (line["llr"] is None) == (not line["speech"])


@pytest.mark.slow
def test_calibrate_on_labelled_audio(tmp_path, capsys):
    """`aasist calibrate fit --audio LABELS.csv`: what a user with labelled clips runs."""
    rows = ["path,label"]
    for i in range(6):
        for label, attack in (("bonafide", None), ("spoof", "A07")):
            name = f"{label}{i}.wav"
            sf.write(tmp_path / name, _voice(i, attack), SR, subtype="PCM_16")
            rows.append(f"{name},{label}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "mine.json"
    # --no-vad: Silero does not take every synthetic vocoder of the mini corpus for speech
    result = run_cli(capsys, "calibrate", "fit", "--audio", tmp_path / "labels.csv", "--no-vad",
                     "--out", out)
    assert result.returncode == 0, result.stderr
    saved = json.loads(out.read_text())
    assert saved["counts"] == {"bonafide": 6, "spoof": 6} and saved["data"] == [str(tmp_path / "labels.csv")]
    (tmp_path / "bad.csv").write_text("path,label\nbonafide0.wav,maybe\n")
    bad = run_cli(capsys, "calibrate", "fit", "--audio", tmp_path / "bad.csv", "--out", out)
    assert bad.returncode == 1 and "bad.csv:2" in bad.stderr and "maybe" in bad.stderr
