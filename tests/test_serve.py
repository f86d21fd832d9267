"""serve: the JSON API (Starlette's test client and a real server process on 127.0.0.1) and
the page in headless Chromium (Debian's chromium + chromedriver, driven by selenium)."""
from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import soundfile as sf
from starlette.testclient import TestClient

from aasist.predict import Detector
from aasist.serve import create_app

from conftest import PARITY, ROOT

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


# --------------------------------------------------------------------------- a real server


@pytest.fixture(scope="module")
def server():
    """`python -m aasist serve --port 0` on 127.0.0.1; the URL is read from its first line."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "aasist", "serve", "--port", "0",
                             "--hop", "0.25", "--set", SMALL], cwd=ROOT, env=env,
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


@pytest.mark.slow
def test_real_server_process(server):
    with urllib.request.urlopen(server + "/api/health", timeout=60) as response:
        assert json.loads(response.read())["status"] == "ok"
    status, body = _post(server + "/api/score?name=a.txt", b"not audio at all")
    assert status == 422 and "a.txt" in body["error"]
    status, body = _post(server + "/api/score?name=tone.wav", _wav(_tone(1.5, 22050), 22050))
    assert status == 200 and body["path"] == "tone.wav" and body["sample_rate"] == 22050
    assert body["windows"] == 2 and body["label"] in ("bonafide", "spoof")


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
    assert browser.find_element(By.ID, "verdict").text in ("Bona fide", "Spoof")
    assert "p_bonafide = 0." in browser.find_element(By.ID, "confidence").text
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
