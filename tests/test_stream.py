"""stream: window timing on a simulated clock, skipping when behind, PCM input, the CLI."""
from __future__ import annotations

import io
import json
import sys
import types

import numpy as np
import pytest
import soundfile as sf
import torch

from aasist.data.audio import repeat_pad, resample_to_16k
from aasist.errors import ConfigError, DataError
from aasist.predict import Detector
from aasist.stream import (Feed, PcmDecoder, StreamResampler, StreamScorer,
                           microphone, paced, pcm_feed)

from conftest import PARITY, run_cli


class SimClock:
    """A clock that moves only when someone sleeps or the stub model computes."""

    def __init__(self) -> None:
        self.t = 100.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)


class _SlowModel(torch.nn.Module):
    """Stub whose forward takes ``cost`` simulated seconds; logits = (0, window mean * 1000)."""

    def __init__(self, clock: SimClock, cost: float, min_samples: int = 5000):
        super().__init__()
        self.clock, self.cost, self.min_samples = clock, cost, min_samples
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        self.clock.t += self.cost
        return torch.stack([torch.zeros(x.shape[0]), 1000 * x.mean(dim=1)], dim=1)


def _scorer(cost: float, hop: float = 0.25, nb: int = 16000):
    clock = SimClock()
    det = Detector.from_model(_SlowModel(clock, cost), nb_samp=nb)
    return StreamScorer(det, hop_seconds=hop, clock=clock), clock


def _ramp(n: int) -> np.ndarray:
    return (np.arange(n, dtype=np.float32) % 997) / 997.0


def _expected_score(x: np.ndarray, end: int, nb: int = 16000) -> float:
    window = repeat_pad(x[:end], nb) if end < nb else x[end - nb:end]
    return float(1000 * torch.from_numpy(np.ascontiguousarray(window))[None].mean(dim=1)[0])


# --------------------------------------------------------------------------- timing


def test_a_window_every_hop_then_the_final_one():
    scorer, clock = _scorer(cost=0.01)
    x = _ramp(33600)  # 2.1 s
    lines = list(scorer.run(paced(x, clock, chunk=400)))
    ends = [round(line["end_s"] * 16000) for line in lines]
    # first hop at or after the model minimum (5000 samples), then every 4000, then the end
    assert ends == list(range(8000, 33600, 4000)) + [33600]
    assert [line["start_s"] for line in lines] == [max(0, e - 16000) / 16000 for e in ends]
    for line, end in zip(lines, ends):
        assert line["score"] == pytest.approx(_expected_score(x, end), rel=1e-6)
        assert line["latency_ms"] == pytest.approx(10.0)  # only the forward pass
        assert set(line) == {"start_s", "end_s", "score", "p_bonafide", "llr", "p_spoof", "label",
                             "latency_ms", "calibration"}
    assert scorer.skipped == 0 and scorer.scored == len(lines)
    assert scorer.busy_s == pytest.approx(0.01 * len(lines))


def test_no_final_window_when_the_last_hop_ended_the_input():
    scorer, clock = _scorer(cost=0.01)
    lines = list(scorer.run(paced(_ramp(32000), clock, chunk=400)))
    assert [line["end_s"] for line in lines] == [0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0]


def test_skips_windows_instead_of_lagging_when_slower_than_real_time():
    scorer, clock = _scorer(cost=0.6)  # 0.6 s per window, a window due every 0.25 s
    x = _ramp(16000 * 6)
    lines = list(scorer.run(paced(x, clock, chunk=400)))
    assert scorer.skipped > 0 and scorer.scored == len(lines)
    assert scorer.skipped + scorer.scored >= (len(x) - 8000) // 4000  # every hop accounted for
    assert all(b["end_s"] > a["end_s"] for a, b in zip(lines, lines[1:]))
    # latency stays bounded (one window's wait plus its own forward), it does not grow
    assert max(line["latency_ms"] for line in lines) <= 1000 * (0.6 + 0.6 + 0.025) + 1e-6
    assert lines[-1]["end_s"] == 6.0 and lines[-1]["score"] == pytest.approx(
        _expected_score(x, len(x)), rel=1e-6)


def test_input_at_full_speed_scores_the_newest_window_and_the_end():
    scorer, clock = _scorer(cost=0.01)
    x = _ramp(40000)
    lines = list(scorer.run([[(x[:30000], clock.now())], [(x[30000:], clock.now())]]))
    assert [round(line["end_s"] * 16000) for line in lines] == [28000, 40000]
    assert scorer.skipped == 7  # 8000 ... 24000, 32000 and 36000 never scored


def test_short_input_is_padded_like_the_official_evaluation():
    scorer, clock = _scorer(cost=0.01)
    x = _ramp(3000)  # less than the model minimum and than one hop
    (line,) = scorer.run(paced(x, clock))
    assert line["end_s"] == 3000 / 16000 and line["start_s"] == 0
    assert line["score"] == pytest.approx(_expected_score(x, 3000), rel=1e-6)


def test_paced_source_releases_samples_in_real_time():
    clock = SimClock()
    start = clock.now()
    pieces = [p for batch in paced(np.zeros(1000, np.float32), clock, chunk=300) for p in batch]
    assert [len(p[0]) for p in pieces] == [300, 300, 300, 100]
    assert [p[1] - start for p in pieces] == pytest.approx([300 / 16000, 600 / 16000,
                                                            900 / 16000, 1000 / 16000])


# --------------------------------------------------------------------------- input


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000, 16000])
def test_streamed_resampling_equals_whole_file_resampling(rate):
    rng = np.random.default_rng(rate)
    x = (0.3 * rng.standard_normal(rate + 321)).astype(np.float32)
    r, out, i = StreamResampler(rate), [], 0
    while i < len(x):
        n = int(rng.integers(1, 2500))
        out.append(r.push(x[i:i + n]))
        i += n
    y = np.concatenate(out + [r.flush()])
    ref = resample_to_16k(x, rate)
    assert y.shape == ref.shape and np.abs(y - ref).max() <= 1e-6


def test_pcm_decoder_formats_channels_and_split_frames():
    pcm = np.array([[1000, -3000], [-32768, 32767], [5, 7]], dtype="<i2")
    dec = PcmDecoder("s16le", 2)
    data = pcm.tobytes()
    parts = [dec.push(data[:5]), dec.push(data[5:9]), dec.push(data[9:])]  # frames split
    got = np.concatenate(parts)
    expected = (pcm.astype(np.float32) / 32768).mean(axis=1, dtype=np.float32)
    assert got.dtype == np.float32 and np.array_equal(got, expected)
    mono = PcmDecoder("s16le", 1).push(pcm[:, 0].tobytes())
    assert np.array_equal(mono, pcm[:, 0].astype(np.float32) / 32768)  # exact, like libsndfile
    f32 = np.array([0.5, -0.25], "<f4")
    assert np.array_equal(PcmDecoder("f32le", 1).push(f32.tobytes()), f32)
    with pytest.raises(DataError, match="NaN"):
        PcmDecoder("f32le", 1).push(np.array([np.nan], "<f4").tobytes())
    with pytest.raises(ConfigError, match="s16le, f32le"):
        PcmDecoder("u8", 1)
    with pytest.raises(ConfigError, match="channels"):
        PcmDecoder("s16le", 0)


def test_pcm_feed_reads_a_pipe_and_resamples():
    x = (0.2 * np.sin(np.arange(12000) / 5)).astype(np.float32)
    data = (x * 32767).astype("<i2").tobytes() + b"\x01"  # a stray half sample at the end
    pieces = [p for batch in pcm_feed(io.BytesIO(data), "s16le", 8000, 1, block=1000)
              for p in batch]
    y = np.concatenate([p[0] for p in pieces])
    ref = resample_to_16k((x * 32767).astype("<i2").astype(np.float32) / 32768, 8000)
    assert y.shape == (24000,) and np.abs(y - ref).max() <= 1e-6


def test_a_reading_error_reaches_the_consumer():
    class Broken(io.RawIOBase):
        def read(self, n=-1):
            raise OSError("device unplugged")

    with pytest.raises(OSError, match="unplugged"):
        list(pcm_feed(Broken()))


def test_microphone_through_sounddevice(monkeypatch):
    class FakeInputStream:
        def __init__(self, samplerate, channels, dtype, callback):
            assert (samplerate, channels, dtype) == (16000, 2, "float32")
            self.callback = callback

        def __enter__(self):
            self.callback(np.full((160, 2), [0.5, 0.0], np.float32), 160, None, None)
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setitem(sys.modules, "sounddevice", types.SimpleNamespace(InputStream=FakeInputStream))
    with microphone(16000, 2) as feed:
        feed.end()
        (batch,) = list(feed)
    assert np.array_equal(batch[0][0], np.full(160, 0.25, np.float32))  # channels averaged


def test_mic_without_sounddevice_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import fails, as when not installed
    with pytest.raises(ConfigError, match="pip install sounddevice"):
        with microphone():
            pass
    result = run_cli(capsys, "stream", "--mic", "--set", "model_config.nb_samp=16000")
    assert result.returncode == 1 and "error: --mic needs the sounddevice package" in result.stderr


def test_feed_iteration_groups_what_arrived():
    clock = SimClock()
    feed = Feed(16000, clock)
    feed.put(np.ones(10, np.float32))
    clock.sleep(1.0)
    feed.put(np.zeros(5, np.float32))
    feed.end()
    (batch,) = list(feed)
    assert [(len(s), t) for s, t in batch] == [(10, 100.0), (5, 101.0)]


# --------------------------------------------------------------------------- command line


def _stdin(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=io.BytesIO(data)))


@pytest.mark.slow
def test_cli_stdin_ends_with_the_official_score(monkeypatch, capsys, tmp_path):
    """A 64,600-sample clip on stdin: the last line is the official evaluation's score."""
    ref = np.load(PARITY)
    x = ref["input"][0].astype("<f4")
    _stdin(monkeypatch, x.tobytes())
    result = run_cli(capsys, "stream", "--format", "f32le", "--hop", "1")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[-1]["end_s"] == 64600 / 16000 and lines[-1]["start_s"] == 0
    det = Detector()
    assert lines[-1]["score"] == det.score(x, sample_rate=16000)["score"]  # exactly
    assert lines[-1]["score"] == pytest.approx(float(ref["AASIST-L/logits"][0, 1]), abs=1e-4)

    # a 16-bit clip gives the score predict (and the official evaluation) gives its file
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2")
    path = tmp_path / "clip.flac"
    sf.write(path, pcm, 16000, subtype="PCM_16")
    _stdin(monkeypatch, pcm.tobytes())
    result = run_cli(capsys, "stream", "--hop", "1")
    last = json.loads(result.stdout.splitlines()[-1])
    assert last["score"] == det.score(path)["score"]


@pytest.mark.slow
def test_cli_file_input_replayed_live(capsys, tmp_path):
    x = (0.1 * np.sin(np.arange(12000) / 3)).astype(np.float32)  # 0.75 s at 16 kHz
    wav = tmp_path / "a.wav"
    sf.write(wav, x, 16000, subtype="FLOAT")
    small = ["--set", "model_config.nb_samp=16000"]
    result = run_cli(capsys, "stream", "--input", wav, "--hop", "0.25", *small)
    assert result.returncode == 0, result.stderr
    ends = [json.loads(line)["end_s"] for line in result.stdout.splitlines()]
    # in real time: a window every hop, unless this machine is too busy to keep up, and then
    # every skipped window is said on stderr
    assert ends[-1] == 0.75 and set(ends) <= {0.25, 0.5, 0.75}
    assert (len(ends) == 3) == ("skipped" not in result.stderr)
    raw = tmp_path / "a.raw"  # raw PCM at 8 kHz, two channels
    raw.write_bytes((np.repeat(x[::2, None], 2, axis=1) * 32767).astype("<i2").tobytes())
    result = run_cli(capsys, "stream", "--input", raw, "--rate", "8000", "--channels", "2",
                     "--hop", "0.25", *small)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["end_s"] == 0.75


@pytest.mark.parametrize("args, message", [
    (["--hop", "0"], "error: hop must be a positive number of seconds"),
    (["--hop", "9"], "error: hop 9.0 s is longer than the window"),
    (["--rate", "0", "--input", "x.raw"], "error: the input rate must be a positive"),
    (["--channels", "0", "--input", "x.raw"], "error: channels must be a whole number"),
    (["--input", "missing.wav"], "error: audio file not found: missing.wav"),
])
def test_cli_bad_settings_are_one_line_errors(capsys, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.raw").write_bytes(b"\0" * 64)
    result = run_cli(capsys, "stream", "--set", "model_config.nb_samp=16000", *args)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(message), result.stderr
