"""serve: the JSON API (Starlette's test client and a real server process on 127.0.0.1) and
the page in headless Chromium (Debian's chromium + chromedriver, driven by selenium)."""
from __future__ import annotations

import asyncio
import http.client
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import soundfile as sf

from aasist.data.mini import synthesize_utterance
import torch
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from aasist.data.audio import audio_info, read_audio
from aasist.errors import ConfigError, DataError
from aasist.predict import Detector
from aasist.serve import Limits, check_exposure, create_app
from aasist.serve import app as serve_app

from conftest import PARITY, ROOT, run_cli

SMALL = "model_config.nb_samp=16000"  # 1 s windows: fast tests where parity is not the point


@pytest.fixture(scope="module")
def det_small():
    return Detector(overrides=[SMALL])


@pytest.fixture(scope="module")
def det_official():
    return Detector()


@pytest.fixture(scope="module")
def client(det_small):
    with TestClient(create_app(det_small, "official:AASIST-L", max_upload_mb=0.2)) as c:
        yield c


def _wav(x: np.ndarray, sr: int = 16000, subtype: str = "PCM_16") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x, sr, format="WAV", subtype=subtype)
    return buf.getvalue()


def _tone(seconds: float, sr: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.2 * np.sin(2 * np.pi * 220 * t) * (0.6 + 0.4 * np.sin(5 * t))).astype(np.float32)


# --------------------------------------------------------------------------- test client


def test_page_and_health(client):
    page = client.get("/")
    assert page.status_code == 200 and 'id="file" type="file"' in page.text
    assert client.get("/static/app.js").status_code == 200
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["model"] == "official:AASIST-L"
    assert health["nb_samp"] == 16000 and health["threshold"] is None
    assert health["max_upload_bytes"] == 200_000
    assert health["max_duration_s"] == 600 and health["max_samples"] == 600 * 96_000
    assert health["sample_rate_range"] == [8000, 192000]
    assert (health["queue_size"], health["waiting"], health["running"]) == (8, 0, 0)
    assert (health["streams"], health["max_streams"]) == (0, 2)
    assert health["score_timeout_s"] == 300 and health["token_required"] is False
    for missing in ("/nope", "/static/nope.js"):  # errors of the router are JSON too
        r = client.get(missing)
        assert r.status_code == 404 and r.json() == {"error": "Not Found"}
    assert client.get("/api/score").status_code == 405


def test_official_score_of_a_64600_sample_clip(det_official, tmp_path):
    ref = np.load(PARITY)
    body = _wav(ref["input"][0], subtype="FLOAT")
    expected = det_official.score(ref["input"][0], sample_rate=16000)["score"]
    with TestClient(create_app(det_official, "official:AASIST-L")) as c:
        raw = c.post("/api/score?name=parity.wav", content=body)
        form = c.post("/api/score", files={"file": ("clip.wav", body, "audio/wav")})
    for response, name in ((raw, "parity.wav"), (form, "clip.wav")):
        assert response.status_code == 200, response.text
        r = response.json()
        assert r["path"] == name and r["windows"] == 1 and r["score"] == expected
        assert r["score"] == pytest.approx(float(ref["AASIST-L/logits"][0, 1]), abs=1e-4)
        assert [w["end_s"] for w in r["timeline"]] == [64600 / 16000]


def _local_score(det, body: bytes, tmp_path) -> dict:
    path = tmp_path / "same.wav"
    path.write_bytes(body)
    return det.score(path, timeline=True)


def test_not_audio_is_a_json_error_and_the_server_goes_on(client, det_small, tmp_path):
    bad = client.post("/api/score?name=notes.txt", content=b"this is not audio\n" * 10)
    assert bad.status_code == 422
    assert "notes.txt: cannot decode audio" in bad.json()["error"]
    assert "aasist-serve-" not in bad.json()["error"]  # no server-side temporary paths
    body = _wav(_tone(2.5))
    good = client.post("/api/score", content=body)
    assert good.status_code == 200
    r = good.json()
    assert r["windows"] == 4 and r["path"] == "upload"
    assert {k: v for k, v in r.items() if k != "path"} == \
        {k: v for k, v in _local_score(det_small, body, tmp_path).items() if k != "path"}


def test_size_limit(client):
    too_big = _wav(np.zeros(125_000, np.float32))  # 250 kB > 200 kB
    r = client.post("/api/score", content=too_big)
    assert r.status_code == 413 and "over the limit of 200,000 bytes" in r.json()["error"]
    chunked = client.post("/api/score", content=(too_big[i:i + 8192]
                                                 for i in range(0, len(too_big), 8192)))
    assert chunked.status_code == 413  # no Content-Length: counted while it arrives
    assert client.post("/api/score", content=_wav(_tone(0.5))).status_code == 200


def test_missing_audio_is_400(client):
    empty = client.post("/api/score", content=b"")
    assert empty.status_code == 400 and "empty request" in empty.json()["error"]
    no_file = client.post("/api/score", data={"other": "x"}, files={"x": ("a.wav", b"1")})
    assert no_file.status_code == 400 and "field named 'file'" in no_file.json()["error"]


def test_concurrent_requests_are_all_answered(client, det_small, tmp_path):
    bodies = [_wav(_tone(0.5 + 0.25 * k)) for k in range(4)]
    with ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lambda b: client.post("/api/score", content=b), bodies))
    for body, response in zip(bodies, responses):
        assert response.status_code == 200
        assert response.json()["score"] == _local_score(det_small, body, tmp_path)["score"]


def test_websocket_stream_ends_with_the_official_score(det_official):
    x = np.load(PARITY)["input"][0].astype("<f4")
    with TestClient(create_app(det_official, "official:AASIST-L", hop_seconds=1.0)) as c:
        with c.websocket_connect("/api/stream?rate=16000") as ws:
            for part in np.array_split(x, 5):
                ws.send_bytes(part.tobytes())
            ws.send_text("end")
            lines = []
            while "done" not in (line := ws.receive_json()):
                lines.append(line)
    assert line["skipped"] >= 0 and lines
    assert lines[-1]["end_s"] == 64600 / 16000
    assert lines[-1]["score"] == det_official.score(x, sample_rate=16000)["score"]


def test_websocket_bad_input(client):
    with client.websocket_connect("/api/stream?rate=zero") as ws:
        assert "bad rate" in ws.receive_json()["error"]
    with client.websocket_connect("/api/stream?rate=16000") as ws:
        ws.send_bytes(np.array([np.nan] * 4, "<f4").tobytes())
        assert "NaN" in ws.receive_json()["error"]


# --------------------------------------------------------------------------- limits


def _flac(seconds: float, sr: int = 16000, channels: int = 1) -> bytes:
    """Silence as FLAC, written a minute at a time: 3 h compresses to about 0.5 MB."""
    buf = io.BytesIO()
    with sf.SoundFile(buf, "w", samplerate=sr, channels=channels, format="FLAC",
                      subtype="PCM_16") as f:
        left = int(seconds * sr)
        block = np.zeros((min(left, 60 * sr), channels), np.int16)
        while left > 0:
            f.write(block[:left])
            left -= block.shape[0]
    return buf.getvalue()


@pytest.fixture(scope="module")
def three_hours():
    data = _flac(3 * 3600)
    assert len(data) < 1_000_000
    return data


@pytest.fixture
def no_decoding(monkeypatch):
    """The server must refuse from the header: decoding or scoring fails the test."""
    def boom(*args, **kwargs):
        raise AssertionError("the upload was decoded")

    monkeypatch.setattr(serve_app, "read_audio", boom)
    monkeypatch.setattr(serve_app, "cut_windows", boom)


def _timed_post(client, url, **kwargs):
    t0 = time.perf_counter()
    r = client.post(url, **kwargs)
    return r, time.perf_counter() - t0


def test_bombs_are_refused_from_the_header(det_small, three_hours, no_decoding):
    one_hz = _wav(np.zeros(20_000, np.float32), sr=1)  # 40 kB: 320 M samples at 16 kHz
    with TestClient(create_app(det_small, "m")) as c:
        r, took = _timed_post(c, "/api/score?name=silence.flac", content=three_hours)
        assert r.status_code == 413 and took < 5, (r.text, took)
        assert r.json()["error"] == ("silence.flac: 10,800.0 s of audio is over the limit of "
                                     "600 s (serve --max-duration)")
        r, took = _timed_post(c, "/api/score", files={"file": ("slow.wav", one_hz, "audio/wav")})
        assert r.status_code == 422 and took < 5
        assert r.json()["error"].startswith("slow.wav: its sample rate of 1 Hz is outside the "
                                            "8,000-192,000 Hz")
        r = c.post("/api/score?name=fast.wav", content=_wav(np.zeros(100, np.float32), sr=400_000))
        assert r.status_code == 422 and "400,000 Hz" in r.json()["error"]
        assert c.get("/api/health").json()["done"] == 0  # nothing reached the runner


def test_decoded_samples_and_unknown_length_are_refused(det_small, no_decoding):
    eight = _flac(5, sr=48000, channels=8)  # 5 s, under 10 s, but 1.92 M decoded samples
    unknown = bytearray(_flac(1))
    unknown[8 + 13] &= 0xF0  # STREAMINFO: total samples 0, "unknown"
    unknown[8 + 14:8 + 18] = bytes(4)
    with TestClient(create_app(det_small, "m", max_duration_s=10)) as c:
        r = c.post("/api/score?name=8ch.flac", content=eight)
        assert r.status_code == 413
        assert r.json()["error"] == ("8ch.flac: 240,000 frames x 8 channels is over the limit of "
                                     "960,000 decoded samples (serve --max-duration x 96,000: "
                                     "10 s of 48 kHz stereo)")
        r = c.post("/api/score?name=live.flac", content=bytes(unknown))
        assert r.status_code == 413 and "does not say how long" in r.json()["error"]


def test_a_200_mb_body_is_refused_before_it_is_read(det_small):
    with TestClient(create_app(det_small, "m")) as c:
        r, took = _timed_post(c, "/api/score", content=bytes(200_000_000))
    assert r.status_code == 413 and took < 5
    assert r.json()["error"] == ("the upload (200,000,000 bytes) is over the limit of "
                                 "100,000,000 bytes (serve --max-upload-mb)")
    assert r.headers["connection"] == "close"  # the body was not read


@pytest.mark.parametrize("where", ["query", "multipart"])
@pytest.mark.parametrize("name, why", [("a\x00b.wav", "U+0000"), ("x\ny.wav", "U+000A"),
                                       ("\x7f.wav", "U+007F"), ("n" * 252 + ".wav", "256 characters")])
def test_bad_file_names_are_400_json(client, where, name, why):
    body = _wav(_tone(0.5))
    if where == "query":
        r = client.post("/api/score", params={"name": name}, content=body)
    else:  # written by hand: httpx would percent-encode the name
        form = (b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="'
                + name.encode() + b'"\r\nContent-Type: audio/wav\r\n\r\n' + body + b"\r\n--xyz--\r\n")
        r = client.post("/api/score", content=form,
                        headers={"content-type": "multipart/form-data; boundary=xyz"})
    assert r.status_code == 400, r.text
    if not (where == "multipart" and "\n" in name):  # a newline breaks the part's headers
        assert why in r.json()["error"], r.text
    assert client.post("/api/score?name=fine%20name.wav", content=body).json()["path"] == \
        "fine name.wav"


def test_malformed_multipart_is_400(client):
    r = client.post("/api/score", content=b"--x\r\n\r\n",
                    headers={"content-type": "multipart/form-data"})
    assert r.status_code == 400 and "boundary" in r.json()["error"]


def test_limits_are_checked():
    assert Limits().max_upload_bytes == 100_000_000 and Limits().queue == 8
    for bad in ({"queue": 0}, {"queue": 1.5}, {"max_streams": -1}, {"max_duration_s": 0},
                {"score_timeout_s": float("nan")}, {"max_upload_mb": -1}):
        with pytest.raises(ConfigError, match="--"):
            Limits(**bad)


def test_the_parser_defaults_are_the_limits():
    from aasist.cli import build_parser

    args = build_parser().parse_args(["serve"])
    assert Limits(max_upload_mb=args.max_upload_mb, max_duration_s=args.max_duration,
                  queue=args.queue, max_streams=args.max_streams,
                  score_timeout_s=args.score_timeout, read_timeout_s=args.read_timeout,
                  body_timeout_s=args.body_timeout) == Limits()
    assert args.max_connections == serve_app.DEFAULT_MAX_CONNECTIONS and args.token is None


def test_uploads_are_read_from_memory(tmp_path):
    """read_audio on a file object gives exactly what it gives for the same file on disk."""
    for subtype, x in (("PCM_16", _tone(0.3)), ("FLOAT", _tone(0.3) * 0.5),
                       ("PCM_24", np.stack([_tone(0.3), -_tone(0.3)], axis=1))):
        path = tmp_path / f"{subtype}.wav"
        sf.write(path, x, 22050, subtype=subtype)
        a, sr_a = read_audio(path)
        b, sr_b = read_audio(io.BytesIO(path.read_bytes()), name="up.wav")
        assert sr_a == sr_b == 22050 and a.dtype == b.dtype == np.float32
        assert np.array_equal(a, b)
        assert audio_info(io.BytesIO(path.read_bytes())) == (x.shape[0], 22050, x.ndim)
    with pytest.raises(DataError, match=r"^up\.bin: cannot decode audio \(Error opening "
                                        r"up\.bin: Format not recognised"):
        read_audio(io.BytesIO(b"not audio" * 20), name="up.bin")
    with pytest.raises(DataError, match="up.wav: empty audio file"):
        audio_info(io.BytesIO(b""), name="up.wav")


# --------------------------------------------------------------------------- queue and runner


class _GatedModel(torch.nn.Module):
    """Stub: each forward pass waits for ``gate`` (then takes ``cost`` s); logits zero."""

    min_samples = 1

    def __init__(self, cost: float = 0.0):
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(1))
        self.gate = threading.Event()
        self.cost, self.calls = cost, 0

    def forward(self, x):
        self.calls += 1
        assert self.gate.wait(30), "the test never opened the gate"
        time.sleep(self.cost)
        return torch.zeros(x.shape[0], 2)


def _gated(cost: float = 0.0, batch_size: int = 8):
    model = _GatedModel(cost)
    return model, Detector.from_model(model, nb_samp=16000, batch_size=batch_size)


def _until(condition, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out waiting"
        time.sleep(0.01)


def test_a_full_queue_answers_503_with_retry_after():
    model, det = _gated()
    body = _wav(_tone(0.5))
    with TestClient(create_app(det, "stub", queue=1)) as c, ThreadPoolExecutor(2) as pool:
        health = lambda: c.get("/api/health").json()  # noqa: E731
        first = pool.submit(c.post, "/api/score", content=body)
        _until(lambda: health()["running"] == 1)
        second = pool.submit(c.post, "/api/score", content=body)
        _until(lambda: health()["waiting"] == 1)
        full = c.post("/api/score", content=body)
        assert full.status_code == 503 and int(full.headers["retry-after"]) >= 1
        assert full.json()["error"].startswith("busy: 1 request(s) already wait for the model "
                                               "(serve --queue 1)")
        model.gate.set()
        assert first.result().status_code == second.result().status_code == 200
        assert health()["done"] == 2 and model.calls == 2


def _scope(query: bytes = b"", headers=()) -> dict:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": "/api/score", "raw_path": b"/api/score", "root_path": "",
            "query_string": query, "headers": list(headers), "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80), "state": {}}


class _Client:
    """An ASGI client: its body arrives in ``chunks`` (``pause`` s before each after the
    first), then it stays connected until ``leave`` is set."""

    def __init__(self, chunks, pause: float = 0.0):
        self.chunks, self.pause, self.first = list(chunks), pause, True
        self.leave = asyncio.Event()
        self.sent: list[dict] = []

    async def receive(self) -> dict:
        if self.chunks:
            if self.pause and not self.first:
                await asyncio.sleep(self.pause)
            self.first = False
            chunk = self.chunks.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks)}
        await self.leave.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict) -> None:
        self.sent.append(message)

    def call(self, app, query: bytes = b"") -> asyncio.Task:
        return asyncio.create_task(app(_scope(query), self.receive, self.send))

    def answer(self) -> tuple[int, dict, dict]:
        start, body = self.sent[0], b"".join(m.get("body", b"") for m in self.sent[1:])
        headers = {k.decode(): v.decode() for k, v in start["headers"]}
        return start["status"], headers, json.loads(body)


async def _until_async(condition, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out waiting"
        await asyncio.sleep(0.01)


def test_a_client_that_leaves_has_its_job_skipped_or_stopped():
    model, det = _gated(cost=0.1, batch_size=1)
    app = create_app(det, "stub")
    svc = app.state.service

    async def scenario():
        running = _Client([_wav(_tone(0.5))])
        queued = _Client([_wav(_tone(0.5))])
        long = _Client([_wav(_tone(6.0))])  # 11 windows, one per forward pass
        tasks = [running.call(app)]
        await _until_async(lambda: svc.running == 1 and model.calls == 1)
        tasks.append(queued.call(app))
        await _until_async(lambda: svc.waiting == 1)
        queued.leave.set()  # gone while waiting: never decoded nor scored
        await tasks[1]
        assert svc.waiting == 0 and svc.cancelled == 1
        model.gate.set()
        await tasks[0]
        assert running.answer()[0] == 200 and model.calls == 1
        tasks.append(long.call(app))
        await _until_async(lambda: model.calls >= 3)
        long.leave.set()  # gone while running: stops before its next forward pass
        await tasks[2]
        await _until_async(lambda: svc.running == 0)
        return model.calls

    try:
        calls = asyncio.run(scenario())
    finally:
        svc.close()
    assert 3 <= calls <= 7 and svc.cancelled == 2 and svc.done == 2  # not 11 windows


def test_scoring_timeout_and_slow_bodies_get_json_errors():
    model, det = _gated(cost=0.05, batch_size=1)
    model.gate.set()
    app = create_app(det, "stub", score_timeout_s=0.3, read_timeout_s=0.2, body_timeout_s=0.5)
    svc = app.state.service
    body = _wav(_tone(6.0))

    async def scenario():
        answers = []
        for client in (_Client([body]),  # 11 forward passes of 50 ms: over 0.3 s
                       _Client([body[:100], body[100:]], pause=0.5),  # a 0.5 s gap
                       _Client([body[k:k + 1000] for k in range(0, len(body), 1000)],
                               pause=0.1)):  # never stalls, but takes 19 s
            await client.call(app)
            answers.append(client.answer())
        return answers

    try:
        (s1, _, e1), (s2, h2, e2), (s3, _, e3) = asyncio.run(scenario())
    finally:
        svc.close()
    assert s1 == 504 and e1["error"] == ("upload: scoring took longer than 0.3 s (serve "
                                         "--score-timeout); send shorter audio")
    assert model.calls < 11
    assert s2 == 408 and h2["connection"] == "close"
    assert e2["error"] == "the upload stalled: nothing arrived for 0.2 s (serve --read-timeout)"
    assert s3 == 408 and e3["error"] == "the upload took longer than 0.5 s (serve --body-timeout)"


def test_shutdown_refuses_waiting_work_and_drains_the_running_job(monkeypatch):
    monkeypatch.setattr(serve_app, "SHUTDOWN_GRACE_S", 0.5)
    model, det = _gated(cost=0.05, batch_size=1)
    app = create_app(det, "stub")
    svc = app.state.service

    async def scenario():
        short, waiting = _Client([_wav(_tone(0.5))]), _Client([_wav(_tone(0.5))])
        tasks = [short.call(app)]
        await _until_async(lambda: svc.running == 1)
        tasks.append(waiting.call(app))
        await _until_async(lambda: svc.waiting == 1)
        svc.begin_stop()
        await tasks[1]  # refused at once
        model.gate.set()
        await tasks[0]  # finishes within the grace period
        late = _Client([_wav(_tone(0.5))])
        await late.call(app)
        return short.answer(), waiting.answer(), late.answer()

    try:
        (s1, _, r1), (s2, _, e2), (s3, _, e3) = asyncio.run(scenario())
    finally:
        svc.close()
    assert s1 == 200 and r1["windows"] == 1
    assert s2 == 503 and e2["error"] == "upload: not scored: the server is shutting down"
    assert s3 == 503 and e3["error"] == "the server is shutting down"


def test_shutdown_answers_a_long_job_when_its_grace_ends(monkeypatch):
    monkeypatch.setattr(serve_app, "SHUTDOWN_GRACE_S", 0.5)
    model, det = _gated(cost=3.0, batch_size=1)  # forward passes of 3 s: longer than the grace
    model.gate.set()
    app = create_app(det, "stub")
    svc = app.state.service

    async def scenario():
        long = _Client([_wav(_tone(6.0))])
        task = long.call(app)
        await _until_async(lambda: svc.running == 1)
        t0 = time.monotonic()
        svc.begin_stop()
        await task
        return long.answer(), time.monotonic() - t0

    try:
        (status, _, error), took = asyncio.run(scenario())
    finally:
        svc.close()
    assert status == 503 and error["error"] == "upload: not scored: the server is shutting down"
    assert 0.4 < took < 2.5 and model.calls < 11  # not after the batch, nor after all of them


# --------------------------------------------------------------------------- live streams


def _refused(ws) -> tuple[str, int]:
    """(error, close code) of a WebSocket the server refuses."""
    error = ws.receive_json()["error"]
    with pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json()
    return error, closed.value.code


def test_websocket_limits(det_small):
    with TestClient(create_app(det_small, "m", max_duration_s=1.0, max_streams=1)) as c:
        for rate in ("1", "7999", "192001", "1000000"):
            with c.websocket_connect(f"/api/stream?rate={rate}") as ws:
                error, code = _refused(ws)
                assert error.startswith("bad rate: ") and "8,000-192,000 Hz" in error
                assert code == 1003
        with c.websocket_connect("/api/stream?rate=16000") as ws:
            ws.send_bytes(bytes((1 << 20) + 4))
            error, code = _refused(ws)
            assert "over the limit of 1,048,576 bytes" in error and code == 1009
        with c.websocket_connect("/api/stream?rate=16000") as ws:
            with c.websocket_connect("/api/stream?rate=16000") as second:
                error, code = _refused(second)
                assert code == 1013 and error.startswith("busy: 1 live stream(s)")
            for part in np.array_split(_tone(2.0).astype("<f4"), 8):
                ws.send_bytes(part.tobytes())
            while "error" not in (line := ws.receive_json()):
                assert "done" not in line
            assert line["error"] == ("the stream passed the limit of 1 s of audio "
                                     "(serve --max-duration); start a new one")
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 1008
        assert c.get("/api/health").json()["streams"] == 0


def test_a_silent_websocket_is_closed(det_small):
    with TestClient(create_app(det_small, "m", read_timeout_s=0.3)) as c:
        with c.websocket_connect("/api/stream?rate=16000") as ws:
            assert ws.receive_json()["error"] == ("nothing arrived for 0.3 s (serve "
                                                  "--read-timeout); the stream is closed")


# --------------------------------------------------------------------------- access


def test_a_token_guards_the_api_but_not_the_page(det_small):
    body = _wav(_tone(0.5))
    with TestClient(create_app(det_small, "m", token="s3cret")) as c:
        assert c.get("/").status_code == 200 and c.get("/static/app.js").status_code == 200
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "s3cret"}):
            r = c.get("/api/health", headers=headers)
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
            assert "needs a token" in r.json()["error"]
            assert c.post("/api/score", content=body, headers=headers).status_code == 401
        assert c.post("/api/score?token=s3cret", content=body).status_code == 401  # header only
        good = {"authorization": "Bearer s3cret"}
        assert c.get("/api/health", headers=good).json()["token_required"] is True
        assert c.post("/api/score", content=body, headers=good).status_code == 200
        with c.websocket_connect("/api/stream?rate=16000") as ws:
            error, code = _refused(ws)
            assert code == 1008 and "needs a token" in error
        with c.websocket_connect("/api/stream?rate=16000&token=s3cret") as ws:
            ws.send_text("end")
            assert ws.receive_json() == {"done": True, "skipped": 0}


def test_listening_beyond_this_computer_needs_a_token(capsys, monkeypatch):
    monkeypatch.delenv("AASIST_SERVE_TOKEN", raising=False)
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        check_exposure(host, None)
    for host in ("0.0.0.0", "::", "192.168.1.10", "example.org"):
        with pytest.raises(ConfigError, match="pass --token"):
            check_exposure(host, None)
        check_exposure(host, "s3cret")
    t0 = time.perf_counter()
    result = run_cli(capsys, "serve", "--host", "0.0.0.0", "--port", "0")
    assert result.returncode == 1 and time.perf_counter() - t0 < 5  # before the model loads
    assert result.stderr.strip().splitlines() == [
        "error: --host 0.0.0.0 lets other computers reach the server; pass --token SECRET "
        "(or set AASIST_SERVE_TOKEN) so only clients that know it can use it"]


# --------------------------------------------------------------------------- a real server


@pytest.fixture(scope="module")
def server():
    """`python -m aasist serve --port 0` on 127.0.0.1; the URL is read from its first line."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "aasist", "serve", "--port", "0",
                             "--hop", "0.25", "--set", SMALL, "--read-timeout", "2",
                             "--max-connections", "12"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("serving on http://127.0.0.1:"):
        proc.kill()
        pytest.fail(f"server did not start: {line!r} {proc.stderr.read()}")
    yield line.split()[2]
    proc.send_signal(signal.SIGINT)  # Ctrl-C: uvicorn shuts down cleanly
    assert proc.wait(timeout=60) == 0, proc.stderr.read()


def _post(url: str, body: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _raw(url: str, data: bytes, then: bytes = b"", pause: float = 0.0) -> tuple[int, dict, float]:
    """Send raw bytes (and ``then`` after ``pause`` s) on one connection; the status and JSON
    body of the answer, and the seconds until the server closed the connection."""
    host, port = url.rsplit("/", 1)[1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        t0 = time.monotonic()
        sock.sendall(data)
        if then:
            time.sleep(pause)
            sock.sendall(then)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        took = time.monotonic() - t0
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body), took


@pytest.mark.slow
def test_real_server_process(server):
    with urllib.request.urlopen(server + "/api/health", timeout=60) as response:
        assert json.loads(response.read())["status"] == "ok"
    status, body = _post(server + "/api/score?name=a.txt", b"not audio at all")
    assert status == 422 and "a.txt" in body["error"]
    status, body = _post(server + "/api/score?name=tone.wav", _wav(_tone(1.5, 22050), 22050))
    assert status == 200 and body["path"] == "tone.wav" and body["sample_rate"] == 22050
    assert body["windows"] == 2 and body["label"] == "no_speech"  # a tone: no speech
    assert body["llr"] is None and body["calibration"] == "uncalibrated" and "speech_s" in body
    status, body = _post(server + "/api/score?name=a%00b.wav", _wav(_tone(0.5)))
    assert status == 400 and "U+0000" in body["error"]
    host, port = server.rsplit("/", 1)[1].rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    took = []
    for _ in range(5):  # a reused connection: no 40 ms delayed-ACK stall (TCP_NODELAY is set)
        t0 = time.perf_counter()
        conn.request("GET", "/api/health")
        assert json.loads(conn.getresponse().read())["status"] == "ok"
        took.append(time.perf_counter() - t0)
    conn.close()
    assert min(took[1:]) < 0.02, took


@pytest.mark.slow
def test_real_server_bounds_slow_and_malformed_clients(server):
    """--read-timeout 2: headers that never finish and a body that stalls get a JSON 408 and
    the connection is closed; oversized headers a JSON 400; past --max-connections 12 a
    JSON 503; and the server goes on serving."""
    status, body, took = _raw(server, b"POST /api/score HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    assert status == 408 and 1.5 < took < 6 and "did not arrive within 2 s" in body["error"]
    status, body, took = _raw(server, b"POST /api/score HTTP/1.1\r\nHost: x\r\n"
                                      b"Content-Length: 1000\r\n\r\n" + bytes(10))
    assert status == 408 and 1.5 < took < 6 and "stalled" in body["error"]
    status, body, _ = _raw(server, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40_000)
    assert status == 400 and "invalid HTTP request" in body["error"]
    status, body, took = _raw(server, b"POST /api/score HTTP/1.1\r\nHost: x\r\n"
                                      b"Content-Length: 200000000\r\n\r\n" + bytes(65536))
    assert status == 413 and took < 6 and "over the limit" in body["error"]
    idle = [socket.create_connection(tuple(server.rsplit("/", 1)[1].rsplit(":", 1)[:1])
                                     + (int(server.rsplit(":", 1)[1]),)) for _ in range(12)]
    try:
        status, body, _ = _raw(server, b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status == 503 and "--max-connections 12" in body["error"]
    finally:
        for sock in idle:
            sock.close()
    time.sleep(0.5)
    with urllib.request.urlopen(server + "/api/health", timeout=60) as response:
        assert json.loads(response.read())["status"] == "ok"


@pytest.mark.slow
def test_sigterm_drains_and_leaves_no_temporary_files(tmp_path):
    """SIGTERM during a long upload: the client gets a JSON answer, the process exits 0
    within a few seconds, and nothing is left in its temporary folder."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-m", "aasist", "serve", "--port", "0",
                             "--set", SMALL], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().split()[2]
        before = set(os.listdir(tmp_path))
        with ThreadPoolExecutor(1) as pool:
            answer = pool.submit(_post, url + "/api/score?name=long.wav", _wav(_tone(120.0)))

            def health() -> dict:
                with urllib.request.urlopen(url + "/api/health", timeout=30) as response:
                    return json.loads(response.read())

            _until(lambda: health()["running"] == 1, timeout=60)
            time.sleep(0.5)
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0, proc.stderr.read()
            took = time.monotonic() - t0
            status, body = answer.result(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert took < 8, took
    assert status == 503 and body["error"] == ("long.wav: not scored: the server is shutting "
                                               "down"), body
    assert set(os.listdir(tmp_path)) == before, "temporary files left behind"


# --------------------------------------------------------------------------- the page


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Debian chromium through its chromedriver (installed by .ci/run, never
    downloaded), with a fake microphone that plays a beep."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "apt-get install chromium chromium-driver (.ci/run does this)"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
                 "--window-size=1000,1000", "--use-fake-device-for-media-stream",
                 "--use-fake-ui-for-media-stream", "--autoplay-policy=no-user-gesture-required"):
        options.add_argument(flag)
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    yield chrome
    chrome.quit()


def _wait(browser, condition, timeout=120):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout).until(lambda b: condition(b))


@pytest.mark.slow
@pytest.mark.browser
def test_page_scores_an_uploaded_file(server, browser, tmp_path):
    from selenium.webdriver.common.by import By

    path = tmp_path / "tone.wav"
    sf.write(path, _tone(2.5), 16000, subtype="PCM_16")
    browser.get(server + "/")
    assert browser.find_element(By.ID, "file").get_attribute("type") == "file"
    _wait(browser, lambda b: b.find_element(By.ID, "model").text == "official:AASIST-L")
    browser.find_element(By.ID, "file").send_keys(str(path))
    plot = browser.find_element(By.ID, "plot")
    _wait(browser, lambda b: plot.get_attribute("data-windows") == "4")
    # a tone is not speech: the page says so, and why a probability would mean little here
    assert browser.find_element(By.ID, "verdict").text == "No speech"
    assert "nothing to judge" in browser.find_element(By.ID, "meaning").text
    assert browser.find_element(By.ID, "provenance").text == (
        "model AASIST-L, calibration uncalibrated")
    assert browser.find_element(By.ID, "warning").is_displayed()
    voice = tmp_path / "voice.wav"
    x = synthesize_utterance(0, "eval", 0, 3, None).astype(np.float32)
    sf.write(voice, 0.5 * x / np.abs(x).max(), 16000, subtype="PCM_16")
    browser.find_element(By.ID, "file").send_keys(str(voice))
    _wait(browser, lambda b: b.find_element(By.ID, "verdict").text in ("Bona fide", "Spoof"))
    assert browser.find_element(By.ID, "confidence").text.startswith("p_spoof = 0.")
    assert "Probability that this is spoofed" in browser.find_element(By.ID, "meaning").text
    browser.find_element(By.ID, "file").send_keys(str(path))
    _wait(browser, lambda b: b.find_element(By.ID, "verdict").text == "No speech")
    assert "tone.wav: 2.50 s at 16000 Hz, 4 window(s)" in browser.find_element(By.ID, "details").text
    painted = browser.execute_script(  # the canvas holds the plot, not a blank image
        "const c = document.getElementById('plot');"
        "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n;")
    assert painted > 1000
    assert browser.find_element(By.ID, "error").text == ""
    png = tmp_path / "page.png"
    browser.save_screenshot(str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
@pytest.mark.browser
def test_page_scores_the_microphone_live(server, browser):
    from selenium.webdriver.common.by import By

    browser.get(server + "/")
    record = browser.find_element(By.ID, "record")
    record.click()  # the fake microphone: a beep, sent over the WebSocket
    plot = browser.find_element(By.ID, "plot")
    _wait(browser, lambda b: int(plot.get_attribute("data-windows") or 0) >= 2)
    assert browser.find_element(By.ID, "details").text.startswith("live: last window")
    record.click()
    _wait(browser, lambda b: b.find_element(By.ID, "status").text.startswith("done"))
    assert browser.find_element(By.ID, "error").text == ""
