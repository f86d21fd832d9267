"""predict: official-score parity, any rate/channels/length, bad files, batching, CLI output."""
from __future__ import annotations

import csv
import io
import json
import math
import multiprocessing
import os
import re

import numpy as np
import pytest
import soundfile as sf
import torch

from aasist.data.audio import repeat_pad
from aasist.errors import ConfigError, DataError
from aasist.data.audio import resample_to_16k
from aasist.calibrate import Decision
from aasist.predict import CSV_FIELDS, Detector, ResultWriter, find_audio_files, predict_paths

from conftest import CONFIG_DIR, PARITY, official_weights, run_cli

WEIGHTS = official_weights("AASIST-L")
CONF = CONFIG_DIR / "AASIST-L.conf"
SMALL = ["model_config.nb_samp=16000"]  # 1 s windows: fast tests where parity is not the point


@pytest.fixture(scope="module")
def weights():
    return WEIGHTS


@pytest.fixture(scope="module")
def det(weights):
    # these tests score synthetic tones, which are not speech: the verdict on speech only
    # has tests of its own (test_speech_only_verdict_*)
    return Detector(CONF, weights, device="cpu", overrides=SMALL, vad=False)


@pytest.fixture(scope="module")
def det_official(weights):
    return Detector(CONF, weights, device="cpu")


def _speechy(seconds: float, sr: int, seed: int = 0, channels: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sr))
    t = np.arange(n) / sr
    out = []
    for c in range(channels):
        x = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 300) * t) * (0.6 + 0.4 * np.sin(7 * t + c))
        out.append(x + 0.03 * rng.standard_normal(n))
    x = np.stack(out, axis=1) if channels > 1 else out[0]
    return np.clip(x, -1, 1).astype(np.float32)


def _write(path, x, sr, subtype="PCM_16", **kw):
    sf.write(str(path), x, sr, subtype=subtype, **kw)
    return str(path)


def _forward(model, window: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return model(torch.from_numpy(np.ascontiguousarray(window, dtype=np.float32))[None])[0].numpy()


# --------------------------------------------------------------------------- official parity


def test_official_score_of_16k_files(det_official, tmp_path):
    """A <= nb_samp clip at 16 kHz is scored as the official evaluation scores it, bit for bit."""
    ref = np.load(PARITY)
    path = _write(tmp_path / "parity.wav", ref["input"][0], 16000, subtype="FLOAT")
    r = det_official.score(path)
    assert r["windows"] == 1 and r["sample_rate"] == 16000
    assert r["score"] == float(_forward(det_official.model, ref["input"][0])[1])
    assert r["score"] == pytest.approx(float(ref["AASIST-L/logits"][0, 1]), abs=1e-4)

    # a shorter 16-bit FLAC: repeat-padded to 64600 exactly like the official `pad`
    x = _speechy(1.5, 16000, seed=3)
    path = _write(tmp_path / "short.flac", x, 16000)
    y, _ = sf.read(path)  # official reading: float64, then float32
    window = repeat_pad(y.astype(np.float32), 64600)
    logits = _forward(det_official.model, window)
    r = det_official.score(path)
    assert r["score"] == float(logits[1])
    assert r["p_bonafide"] == pytest.approx(float(torch.softmax(torch.from_numpy(logits), 0)[1]),
                                            rel=1e-5)
    assert r["duration_s"] == pytest.approx(1.5)


# --------------------------------------------------------------------------- any input


def test_short_clip_and_silence_give_finite_scores(det, tmp_path):
    short = _write(tmp_path / "short.wav", _speechy(0.1, 16000), 16000)  # < model minimum
    silence = _write(tmp_path / "silence.wav", np.zeros(16000 * 2, np.float32), 16000)
    for path in (short, silence):
        r = det.score(path)
        assert math.isfinite(r["score"]) and 0.0 <= r["p_bonafide"] <= 1.0
        assert r["label"] in ("bonafide", "spoof")
    assert det.score(short)["windows"] == 1
    assert det.score(short)["duration_s"] == pytest.approx(0.1)


def test_resampling_8k_and_44k_stereo(det, tmp_path):
    x8 = _speechy(0.7, 8000, seed=1)
    p8 = _write(tmp_path / "a8k.wav", x8, 8000, subtype="FLOAT")
    r = det.score(p8)
    assert r["sample_rate"] == 8000 and r["duration_s"] == pytest.approx(0.7)
    x16 = resample_to_16k(x8, 8000)
    assert x16.shape == (11200,)
    assert r["score"] == det.score(x16, sample_rate=16000)["score"]

    st = _speechy(0.8, 44100, seed=2, channels=2)
    p44 = _write(tmp_path / "b44k.flac", st, 44100, subtype="PCM_24")
    r = det.score(p44)
    assert r["sample_rate"] == 44100 and r["duration_s"] == pytest.approx(0.8)
    y, _ = sf.read(p44, always_2d=True)
    mono = y.mean(axis=1).astype(np.float32)
    expected = _forward(det.model, repeat_pad(resample_to_16k(mono, 44100), 16000))[1]
    assert r["score"] == float(expected)


def test_downmix_file_and_array_layouts(det, tmp_path):
    st = _speechy(0.6, 16000, seed=4, channels=2)
    path = _write(tmp_path / "stereo.wav", st, 16000, subtype="FLOAT")
    mono = ((st[:, 0].astype(np.float64) + st[:, 1]) / 2).astype(np.float32)
    r = det.score(path)
    assert r["score"] == det.score(mono, sample_rate=16000)["score"]
    # (frames, channels) numpy and (channels, frames) torch give the same
    assert det.score(st, sample_rate=16000)["score"] == r["score"]
    assert det.score(torch.from_numpy(st.T.copy()), sample_rate=16000)["score"] == r["score"]
    # integer PCM arrays are scaled like libsndfile does
    i16 = (mono * 16000).astype(np.int16)
    assert det.score(i16, sample_rate=16000)["score"] == \
        det.score(i16.astype(np.float32) / 32768, sample_rate=16000)["score"]


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_resampling_keeps_a_tone(rate):
    """A 1 kHz tone comes out at 16 kHz as the same tone: same amplitude, negligible error."""
    t = np.arange(rate) / rate
    y = resample_to_16k(np.sin(2 * np.pi * 1000 * t).astype(np.float32), rate)
    assert y.dtype == np.float32 and y.shape == (16000,)
    expected = np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000)
    middle = slice(800, -800)  # away from the filter's edge effects
    assert np.abs(y[middle] - expected[middle]).max() < 3e-3  # Kaiser passband ripple ~0.1 %


def test_odd_sample_rate(det):
    r = det.score(_speechy(0.5, 44101), sample_rate=44101)  # exact kernel would be ~GBs
    assert r["sample_rate"] == 44101 and math.isfinite(r["score"])
    assert abs(resample_to_16k(np.zeros(44101, np.float32), 44101).shape[0] - 16000) <= 1


# --------------------------------------------------------------------------- long audio


def test_long_audio_windows_and_timeline(det, tmp_path):
    x = _speechy(3.3, 16000, seed=5)  # 52800 samples, 1 s windows, 0.5 s hop
    path = _write(tmp_path / "long.wav", x, 16000, subtype="FLOAT")
    r = det.score(path, timeline=True)
    starts = [w["start_s"] for w in r["timeline"]]
    assert starts == [0.0, 0.5, 1.0, 1.5, 2.0, 2.3]  # last window aligned to the end
    assert [w["end_s"] for w in r["timeline"]] == pytest.approx([1.0, 1.5, 2.0, 2.5, 3.0, 3.3])
    assert r["windows"] == 6 and det.hop_seconds == 0.5
    for w in r["timeline"]:
        s = int(round(w["start_s"] * 16000))
        assert w["score"] == pytest.approx(float(_forward(det.model, x[s:s + 16000])[1]), abs=1e-5)
    # default aggregation: the least bona fide window (decision statistic = p_bonafide)
    worst = min(r["timeline"], key=lambda w: w["p_bonafide"])
    assert r["p_bonafide"] == pytest.approx(worst["p_bonafide"], abs=1e-9)
    assert r["score"] == worst["score"]
    assert "timeline" not in det.score(path)

    hop1 = Detector.from_model(det.model, hop_seconds=1.0)
    assert [w["start_s"] for w in hop1.score(path, timeline=True)["timeline"]] == [0, 1, 2, 2.3]
    mean = Detector.from_model(det.model, aggregate="mean")
    assert mean.score(path)["score"] == pytest.approx(np.mean([w["score"] for w in r["timeline"]]),
                                                      abs=1e-5)
    exact = Detector.from_model(det.model)
    assert exact.score(x[:16000], sample_rate=16000)["windows"] == 1  # exactly nb_samp: no hop


class _BurstModel(torch.nn.Module):
    """Stub: windows are bona fide unless they hold a loud burst (|x| > 0.5) -> spoof."""

    min_samples = 1

    def __init__(self, nb_samp):
        super().__init__()
        self.d_args = {"nb_samp": nb_samp}
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        loud = (x.abs().amax(dim=1) > 0.5).float()
        return torch.stack([torch.zeros_like(loud), 1.0 - 4.0 * loud], dim=1)


def test_min_aggregation_spots_a_spliced_fake():
    x = np.full(16000 * 20, 0.1, np.float32)  # 20 s "genuine", one 0.3 s "fake" inside
    x[160000:164800] = 0.9
    det_min = Detector.from_model(_BurstModel(16000))
    det_mean = Detector.from_model(_BurstModel(16000), aggregate="mean")
    r = det_min.score(x, sample_rate=16000, timeline=True)
    assert r["label"] == "spoof" and r["score"] == -3.0
    flagged = [w for w in r["timeline"] if w["score"] < 0]
    assert flagged and all(w["start_s"] <= 10.0 and w["end_s"] >= 10.3 for w in flagged)
    assert det_mean.score(x, sample_rate=16000)["label"] == "bonafide"  # diluted by averaging


def test_threshold_semantics(det, tmp_path):
    x = _speechy(0.5, 16000, seed=6)
    r = det.score(x, sample_rate=16000)
    # default: the LLR (logit difference less the training prior's offset) against the
    # Bayes threshold of the ASVspoof 5 costs
    bayes = Decision().threshold
    assert r["llr"] == pytest.approx(math.log(r["p_bonafide"] / (1 - r["p_bonafide"]))
                                     - det.llr_offset, abs=1e-6)
    assert r["label"] == ("bonafide" if r["llr"] >= bayes else "spoof")
    assert r["p_spoof"] == pytest.approx(1 / (1 + math.exp(r["llr"])))  # prior 0.5
    assert Detector.from_model(det.model, threshold=r["score"]).score(
        x, sample_rate=16000)["label"] == "bonafide"  # score >= T
    assert Detector.from_model(det.model, threshold=r["score"] + 1e-3).score(
        x, sample_rate=16000)["label"] == "spoof"
    assert Detector.from_model(det.model, threshold=-1e9).score(
        x, sample_rate=16000)["score"] == r["score"]  # score itself never changes


def test_api_errors(det, tmp_path):
    path = _write(tmp_path / "a.wav", _speechy(0.3, 16000), 16000)
    with pytest.raises(DataError, match="sample_rate"):
        det.score(path, sample_rate=16000)
    with pytest.raises(DataError, match="sample_rate"):
        det.score(np.zeros(100, np.float32))
    with pytest.raises(DataError, match="sample_rate must be a positive integer"):
        det.score(np.zeros(100, np.float32), sample_rate=16000.0)
    with pytest.raises(DataError, match="NaN"):
        det.score(np.full(100, np.nan, np.float32), sample_rate=16000)
    with pytest.raises(DataError, match="no samples"):
        det.score(np.zeros(0, np.float32), sample_rate=16000)
    with pytest.raises(DataError, match="1-D"):
        det.score(np.zeros((2, 2, 100), np.float32), sample_rate=16000)
    with pytest.raises(DataError, match="not found"):
        det.score(tmp_path / "missing.wav")
    with pytest.raises(ConfigError, match="longer than the window"):
        Detector.from_model(det.model, hop_seconds=2.0)
    with pytest.raises(ConfigError, match="positive number"):
        Detector.from_model(det.model, hop_seconds=float("nan"))
    with pytest.raises(ConfigError, match="min, mean"):
        Detector.from_model(det.model, aggregate="max")
    with pytest.raises(ConfigError, match="finite"):
        Detector.from_model(det.model, threshold=float("inf"))
    with pytest.raises(ConfigError, match="batch_size"):
        Detector.from_model(det.model, batch_size=0)
    with pytest.raises(ConfigError, match="json, csv"):
        ResultWriter("xml", io.StringIO())
    with pytest.raises(ConfigError, match="workers"):
        next(predict_paths(det, [path], num_workers=-1))


# --------------------------------------------------------------------------- many files


def _bad_and_good_files(folder):
    folder.mkdir(parents=True, exist_ok=True)
    good = _write(folder / "good.flac", _speechy(0.8, 16000, seed=7), 16000)
    (folder / "empty.wav").write_bytes(b"")
    (folder / "notaudio.wav").write_text("this is not audio\n" * 20)
    full = _write(folder / "full.flac", _speechy(3.0, 16000, seed=8), 16000)
    data = open(full, "rb").read()
    (folder / "truncated.flac").write_bytes(data[: len(data) // 2])
    os.remove(full)
    silence = _write(folder / "silence.wav", np.zeros(8000, np.float32), 16000)
    short = _write(folder / "short.wav", _speechy(0.1, 22050), 22050)
    return [good, str(folder / "empty.wav"), str(folder / "notaudio.wav"),
            str(folder / "truncated.flac"), str(folder / "missing.wav"), silence, short]


@pytest.mark.parametrize("workers", [0, 2])
def test_bad_files_do_not_stop_the_batch(det, tmp_path, workers):
    paths = _bad_and_good_files(tmp_path / "mix")
    results = list(predict_paths(det, paths, progress=False, num_workers=workers))
    assert [r["path"] for r in results] == paths  # input order kept
    failed = {os.path.basename(r["path"]) for r in results if "error" in r}
    assert failed == {"empty.wav", "notaudio.wav", "truncated.flac", "missing.wav"}
    for r in results:
        if "error" in r:
            assert set(r) == {"path", "error"} and "\n" not in r["error"] and r["error"]
        else:
            assert math.isfinite(r["score"]) and r["windows"] == 1


@pytest.mark.slow
def test_batched_results_match_single_scores(det, tmp_path):
    paths = [_write(tmp_path / f"f{i}.wav", _speechy(d, 16000, seed=10 + i), 16000)
             for i, d in enumerate([0.5, 2.7, 0.2, 1.0, 4.1, 0.9])]
    b3 = Detector.from_model(det.model, batch_size=3)  # batches straddle files
    results = list(predict_paths(b3, paths, timeline=True, progress=False, num_workers=1))
    assert [r["windows"] for r in results] == [1, 5, 1, 1, 8, 1]
    for path, r in zip(paths, results):
        single = det.score(path, timeline=True)
        assert r["score"] == pytest.approx(single["score"], abs=1e-5)
        assert [w["start_s"] for w in r["timeline"]] == [w["start_s"] for w in single["timeline"]]


def test_directory_recursion(det, tmp_path):
    root = tmp_path / "tree"
    (root / "b" / "deep").mkdir(parents=True)
    (root / "a").mkdir()
    x = _speechy(0.3, 16000)
    _write(root / "b" / "deep" / "z.FLAC", x, 16000, format="FLAC")
    _write(root / "a" / "y.wav", x, 16000)
    _write(root / "b" / "x.ogg", x, 16000, subtype="VORBIS")
    (root / "b" / "notes.txt").write_text("not audio")
    (tmp_path / "nothing").mkdir()
    entries = find_audio_files([root, tmp_path / "nothing"])
    names = [os.path.relpath(p, root) for p, e in entries if e is None]
    assert names == [os.path.join("a", "y.wav"), os.path.join("b", "x.ogg"),
                     os.path.join("b", "deep", "z.FLAC")]
    assert entries[-1][1] and "no audio files" in entries[-1][1]
    results = list(predict_paths(det, [root], progress=False))
    assert len(results) == 3 and all("score" in r for r in results)


@pytest.mark.slow
def test_closing_the_generator_stops_the_decoding_workers(det, tmp_path):
    paths = [_write(tmp_path / f"c{i}.wav", _speechy(0.2, 16000, seed=i), 16000) for i in range(12)]
    before = set(multiprocessing.active_children())
    gen = predict_paths(det, paths, progress=False, num_workers=2)
    assert gen.__next__()["path"] == paths[0]
    assert len(set(multiprocessing.active_children()) - before) == 2
    gen.close()  # the DataLoader shuts its workers down (joins them) before close returns
    assert set(multiprocessing.active_children()) <= before


def test_result_writer_json_and_csv():
    good = {"path": "a.wav", "score": -1.5, "p_bonafide": 0.2, "label": "spoof", "duration_s": 1.0,
            "sample_rate": 16000, "windows": 2,
            "timeline": [{"start_s": 0.0, "end_s": 1.0, "score": -1.5, "p_bonafide": 0.2}]}
    bad = {"path": "b,\"odd\".wav", "error": "cannot decode"}
    out = io.StringIO()
    w = ResultWriter("json", out)
    w.write(good), w.write(bad)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert "timeline" not in lines[0] and lines[0]["score"] == -1.5 and lines[1] == bad

    out = io.StringIO()
    w = ResultWriter("csv", out, timeline=True)
    w.write(good), w.write(bad), w.write(good)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert out.getvalue().count("path,score") == 1 and len(rows) == 3
    assert list(rows[0]) == list(CSV_FIELDS) + ["timeline"]
    assert json.loads(rows[0]["timeline"])[0]["score"] == -1.5
    assert rows[1]["path"] == bad["path"] and rows[1]["error"] == "cannot decode"
    assert rows[1]["score"] == ""


# --------------------------------------------------------------------------- command line


def _cli(capsys, *args):
    return run_cli(capsys, "predict", "--config", CONF, "--weights", WEIGHTS, "--set", SMALL[0],
                   "--quiet", *args)


def test_cli_json_with_bad_files(capsys, tmp_path):
    paths = _bad_and_good_files(tmp_path / "mix")
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    _write(tmp_path / "sub" / "deeper" / "c.wav", _speechy(2.5, 16000), 16000)
    proc = _cli(capsys, "--timeline", *paths, tmp_path / "sub")
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == \
        "error: 4 file(s) could not be scored (see their 'error' field)"
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == len(paths) + 1
    assert sum("error" in r for r in rows) == 4
    long = rows[-1]
    assert long["path"].endswith("c.wav") and long["windows"] == 4 and len(long["timeline"]) == 4
    for r in rows:
        assert ("error" in r) != ("score" in r)
        if "score" in r:
            assert {"path", "score", "p_bonafide", "label", "duration_s", "sample_rate",
                    "windows"} <= set(r)


def test_cli_csv_all_good(capsys, tmp_path):
    a = _write(tmp_path / "a.wav", _speechy(0.4, 16000), 16000)
    b = _write(tmp_path / "b.flac", _speechy(0.4, 48000, channels=2), 48000)
    proc = _cli(capsys, "--format", "csv", "--threshold", "-1000", "--workers", "1", "--no-vad", a, b)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [r["path"] for r in rows] == [a, b]
    assert all(r["label"] == "bonafide" and r["error"] == "" for r in rows)
    assert rows[1]["sample_rate"] == "48000"


@pytest.mark.parametrize("args, message", [
    (["--hop", "5"], "error: hop 5.0 s is longer than the window 1 s"),
    (["--threshold", "nan"], "error: threshold must be a finite number"),
    (["--workers", "-1"], "error: workers must be >= 0"),
    (["--set", "model_config.nb_samp=10"], "error: .*AASIST-L.conf: model_config.nb_samp=10 is shorter than"),
])
def test_cli_bad_settings_are_one_line_errors(capsys, tmp_path, args, message):
    a = _write(tmp_path / "a.wav", _speechy(0.4, 16000), 16000)
    proc = _cli(capsys, *args, a)
    assert proc.returncode == 1 and proc.stdout == ""
    assert re.match(message, proc.stderr) and proc.stderr.count("\n") == 1, proc.stderr
