"""Tests for aasist.download and the download scripts.

Everything runs against an HTTP server on 127.0.0.1 started by the tests (no other host is
ever contacted), serving small archives built here in the real ASVspoof 2019 LA layout.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
import soundfile as sf

import aasist.download as dl
from aasist.data.corpora import Archive, get_corpus
from conftest import make_mini_corpus
from aasist.download import (COMPLETE_MARKER, PRETRAINED_SHA256, download_file,
                             download_pretrained, prepare_corpus, prepare_la, safe_extract_zip,
                             verify_corpus, verify_la)
from aasist.data.protocols import la_paths
from aasist.errors import DataError, DownloadError
from conftest import load_script

REPO = Path(__file__).resolve().parents[1]
REFERENCE_WEIGHTS = REPO / "aasist" / "pretrained"  # the bundled official checkpoints
FAST = dict(retries=3, backoff=0.001, timeout=5.0, progress=False)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    # urllib honours *_proxy variables; make sure 127.0.0.1 is always reached directly.
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    # Belt and braces: any in-process attempt to reach a host other than 127.0.0.1 fails.
    import socket
    real = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost"):
            raise AssertionError(f"test tried to contact {host}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


# --------------------------------------------------------------------------------------------
# A small, scriptable HTTP server
# --------------------------------------------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):  # noqa: N802
        srv = self.server.owner
        path = urlsplit(self.path).path
        rng = self.headers.get("Range")
        with srv.lock:
            srv.requests.append((path, rng))
            status = srv.statuses.get(path, []).pop(0) if srv.statuses.get(path) else None
            drop = srv.drop_after.get(path, []).pop(0) if srv.drop_after.get(path) else None
            stall = srv.stall.get(path, []).pop(0) if srv.stall.get(path) else None
        try:
            if status is not None:
                self.send_error(status)
                return
            data = srv.files.get(path)
            if data is None:
                self.send_error(404)
                return
            start, code = 0, 200
            if rng and srv.range_support:
                m = re.fullmatch(r"bytes=(\d+)-", rng)
                start = int(m.group(1))
                if start >= len(data):
                    self.send_response(416)
                    if srv.content_range_on_416:
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                code = 206
            body = data[start:]
            self.send_response(code)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            if code == 206:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if stall:
                srv.never.wait(stall)  # not time.sleep, which tests may replace
            if drop is not None:
                self.wfile.write(body[:drop])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


class FileServer:
    """Serves ``files`` (URL path -> bytes); knobs per path for failures on successive requests."""

    def __init__(self, files=None, range_support=True):
        self.files = dict(files or {})
        self.range_support = range_support
        self.content_range_on_416 = True
        self.statuses: dict[str, list[int]] = {}
        self.drop_after: dict[str, list[int]] = {}
        self.stall: dict[str, list[float]] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.lock = threading.Lock()
        self.never = threading.Event()  # never set: waiting on it is a stall
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    srv = FileServer()
    yield srv
    srv.close()


@pytest.fixture
def closed_port_url():
    """A URL whose port refuses connections: bound by this test (so no other process can
    take it) but never listening, so the kernel answers every connect with a reset."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{s.getsockname()[1]}/LA.zip"


def payload(n=50_000, seed=0):
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------------
# A tiny LA.zip in the real layout
# --------------------------------------------------------------------------------------------

UTTS = {  # (speaker, utterance, attack, key), as in the CM protocols
    "train": [("LA_0079", "LA_T_1271820", "A01", "spoof"),
              ("LA_0080", "LA_T_1000001", "-", "bonafide")],
    "dev": [("LA_0070", "LA_D_1000002", "-", "bonafide"),
            ("LA_0071", "LA_D_1000003", "A02", "spoof")],
    "eval": [("LA_0039", "LA_E_A8093886", "A07", "spoof"),  # a non-digit id, as in the release
             ("LA_0040", "LA_E_1000004", "-", "bonafide")],
}


def _flac_bytes(seed: int) -> bytes:
    buf = io.BytesIO()
    audio = np.random.default_rng(seed).normal(0, 0.1, 800).astype(np.float32)
    sf.write(buf, audio, 16000, format="FLAC", subtype="PCM_16")
    return buf.getvalue()


def make_la_zip(path: Path, *, omit=(), extra_train=0, compression=zipfile.ZIP_DEFLATED,
                top="LA") -> Path:
    """Write an LA.zip with protocols listing every utterance and FLACs for all but ``omit``."""
    with zipfile.ZipFile(path, "w", compression) as zf:
        zf.writestr(f"{top}/", b"")
        protocols = {}
        for split, rows in UTTS.items():
            rows = list(rows) + [("LA_0100", f"LA_T_9{i:06d}", "A03", "spoof")
                                 for i in range(extra_train if split == "train" else 0)]
            protocols[split] = rows
            zf.writestr(f"{top}/ASVspoof2019_LA_{split}/", b"")
            zf.writestr(f"{top}/ASVspoof2019_LA_{split}/flac/", b"")
            for i, (_, utt, _, _) in enumerate(rows):
                if utt not in omit:
                    zf.writestr(f"{top}/ASVspoof2019_LA_{split}/flac/{utt}.flac",
                                _flac_bytes(i))
        zf.writestr(f"{top}/ASVspoof2019_LA_cm_protocols/", b"")
        for split in UTTS:
            text = "".join(f"{s} {u} - {a} {k}\n" for s, u, a, k in protocols[split])
            zf.writestr(f"{top}/{la_paths('', split).protocol.as_posix()}", text)
        zf.writestr(f"{top}/ASVspoof2019_LA_asv_scores/ASVspoof2019.LA.asv.dev.gi.trl.scores.txt",
                    "bonafide target 2.5\nA02 spoof 0.4\n")
    return path


def serve_zip(server, zip_path: Path, name="/LA.zip") -> str:
    server.files[name] = zip_path.read_bytes()
    return server.url(name)


def requests_to(server, path="/LA.zip"):
    return [r for r in server.requests if r[0] == path]


# --------------------------------------------------------------------------------------------
# download_file
# --------------------------------------------------------------------------------------------

@pytest.fixture
def data(server):
    """A 50 kB payload that ``server`` serves as /f.bin."""
    blob = payload()
    server.files["/f.bin"] = blob
    return blob


def fetch(srv, tmp_path, data=None, **options):
    """download_file of /f.bin to tmp_path/f.bin, checked against ``data``'s SHA-256."""
    return download_file(srv.url("/f.bin"), tmp_path / "f.bin", sha(data) if data else None,
                         **{**FAST, **options})


def part_file(tmp_path, content: bytes) -> None:
    (tmp_path / "f.bin.part").write_bytes(content)


def test_download_plain_with_sha(server, tmp_path):
    blob = payload()
    server.files["/f.bin"] = blob
    out = download_file(server.url("/f.bin"), tmp_path / "out" / "f.bin", sha(blob), **FAST)
    assert out.read_bytes() == blob
    assert not (tmp_path / "out" / "f.bin.part").exists()
    assert server.requests == [("/f.bin", None)]


def test_md5_is_verified_too(server, data, tmp_path):
    md5 = hashlib.md5(data).hexdigest()
    assert fetch(server, tmp_path, md5=md5).read_bytes() == data
    (tmp_path / "f.bin").unlink()
    with pytest.raises(DownloadError, match="MD5 mismatch.*expected 0{32}"):
        fetch(server, tmp_path, md5="0" * 32)
    assert not (tmp_path / "f.bin").exists() and not (tmp_path / "f.bin.part").exists()


def test_resume_after_connection_cut(server, data, tmp_path):
    server.drop_after["/f.bin"] = [12_345]
    assert fetch(server, tmp_path, data).read_bytes() == data
    assert server.requests == [("/f.bin", None), ("/f.bin", "bytes=12345-")]


def test_resume_existing_part_with_range(server, data, tmp_path):
    part_file(tmp_path, data[:20_000])
    assert fetch(server, tmp_path, data).read_bytes() == data
    assert server.requests == [("/f.bin", "bytes=20000-")]


@pytest.fixture
def no_range_server():
    srv = FileServer(range_support=False)
    srv.files["/f.bin"] = payload()
    yield srv
    srv.close()


def test_range_ignored_restarts_from_zero(no_range_server, tmp_path):
    data = no_range_server.files["/f.bin"]
    part_file(tmp_path, b"junk that must not survive" * 100)
    assert fetch(no_range_server, tmp_path, data).read_bytes() == data
    assert no_range_server.requests == [("/f.bin", "bytes=2600-")]


def test_range_ignored_with_connection_cut(no_range_server, tmp_path):
    data = no_range_server.files["/f.bin"]
    no_range_server.drop_after["/f.bin"] = [10_000, 30_000]
    assert fetch(no_range_server, tmp_path).read_bytes() == data  # no duplicated bytes
    assert [r[1] for r in no_range_server.requests] == [None, "bytes=10000-", "bytes=30000-"]


@pytest.mark.parametrize("content_range", [True, False])
def test_416_complete_part_is_verified_and_kept(server, data, tmp_path, content_range):
    server.content_range_on_416 = content_range  # without it, the hash decides
    part_file(tmp_path, data)
    assert fetch(server, tmp_path, data).read_bytes() == data
    assert server.requests == [("/f.bin", f"bytes={len(data)}-")]


def test_416_oversized_part_restarts(server, data, tmp_path):
    part_file(tmp_path, data + b"extra bytes")
    assert fetch(server, tmp_path, data).read_bytes() == data
    assert [r[1] for r in server.requests] == [f"bytes={len(data) + 11}-", None]


def test_416_complete_but_corrupt_part_is_removed(server, data, tmp_path):
    bad = bytearray(data)
    bad[100] ^= 0xFF
    part_file(tmp_path, bytes(bad))
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        fetch(server, tmp_path, data)
    assert not (tmp_path / "f.bin.part").exists() and not (tmp_path / "f.bin").exists()


def test_404_is_a_download_error_with_url_and_status(server, tmp_path):
    url = server.url("/f.bin")
    with pytest.raises(DownloadError) as info:
        fetch(server, tmp_path)
    assert "404" in str(info.value) and url in str(info.value)
    assert len(server.requests) == 1  # not retried
    assert not (tmp_path / "f.bin").exists() and not (tmp_path / "f.bin.part").exists()


def test_server_errors_are_retried(server, data, tmp_path):
    server.statuses["/f.bin"] = [503, 500]
    assert fetch(server, tmp_path, data).read_bytes() == data
    assert len(server.requests) == 3


def test_gives_up_after_retries_and_keeps_part(server, data, tmp_path):
    server.drop_after["/f.bin"] = [5_000] + [0] * 10  # progress once, then nothing
    with pytest.raises(DownloadError) as info:
        fetch(server, tmp_path)
    msg = str(info.value)
    assert "failed after 4 attempts" in msg and "resume" in msg and "\n" not in msg
    assert (tmp_path / "f.bin.part").stat().st_size == 5_000
    assert len(server.requests) == 4  # the cut attempt, then 3 retries that get nowhere
    # The network comes back: the next call resumes from the kept bytes.
    server.drop_after.clear()
    assert fetch(server, tmp_path, data).read_bytes() == data
    assert server.requests[-1] == ("/f.bin", "bytes=5000-")


def test_connection_refused_gives_up(closed_port_url, tmp_path):
    with pytest.raises(DownloadError, match="failed after 4 attempts"):
        download_file(closed_port_url, tmp_path / "x.zip", **FAST)


def test_stall_hits_socket_timeout_and_retries(server, data, tmp_path, monkeypatch):
    server.stall["/f.bin"] = [1.0]
    waits = []
    monkeypatch.setattr(dl.time, "sleep", waits.append)
    assert fetch(server, tmp_path, data, timeout=0.2).read_bytes() == data
    # the stalled first answer counted as one transient failure: one backoff, one retry
    assert len(server.requests) == 2 and waits == [FAST["backoff"]]


def test_not_enough_disk_space(server, data, tmp_path, monkeypatch):
    real = dl.shutil.disk_usage
    monkeypatch.setattr(dl.shutil, "disk_usage", lambda p: real(p)._replace(free=1000))
    with pytest.raises(DownloadError, match="not enough free disk space"):
        fetch(server, tmp_path)
    assert not (tmp_path / "f.bin.part").exists()


def test_sha_mismatch_removes_file(server, data, tmp_path):
    with pytest.raises(DownloadError) as info:
        download_file(server.url("/f.bin"), tmp_path / "f.bin", "0" * 64, **FAST)
    assert "SHA-256 mismatch" in str(info.value) and "removed" in str(info.value)
    assert not (tmp_path / "f.bin").exists() and not (tmp_path / "f.bin.part").exists()


@pytest.mark.parametrize("checksum,match", [(dict(sha256="abc"), "invalid SHA-256"),
                                            (dict(md5="xyz" * 11), "invalid MD5")])
def test_invalid_checksum_rejected(server, tmp_path, checksum, match):
    with pytest.raises(DownloadError, match=match):
        download_file(server.url("/f.bin"), tmp_path / "f.bin", **checksum, **FAST)
    assert server.requests == []


def test_existing_file_is_not_fetched_again(server, data, tmp_path):
    (tmp_path / "f.bin").write_bytes(data)
    fetch(server, tmp_path, data)
    fetch(server, tmp_path)
    assert server.requests == []
    (tmp_path / "f.bin").write_bytes(b"stale")  # wrong hash: fetched again
    assert fetch(server, tmp_path, data).read_bytes() == data and len(server.requests) == 1


def test_ctrl_c_keeps_part_and_rerun_resumes(server, data, tmp_path, monkeypatch):
    server.drop_after["/f.bin"] = [7_000]

    def interrupt(_):
        raise KeyboardInterrupt

    monkeypatch.setattr(dl.time, "sleep", interrupt)  # Ctrl-C during the backoff wait
    with pytest.raises(KeyboardInterrupt):
        fetch(server, tmp_path)
    assert (tmp_path / "f.bin.part").stat().st_size == 7_000
    monkeypatch.undo()
    assert fetch(server, tmp_path, data).read_bytes() == data
    assert server.requests[-1] == ("/f.bin", "bytes=7000-")


# --------------------------------------------------------------------------------------------
# safe_extract_zip
# --------------------------------------------------------------------------------------------

def _zip_with(path: Path, members: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for info, data in members:
            zf.writestr(info, data)
    return path


def _symlink_info(name):
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (0o120777 << 16)
    return info


@pytest.mark.parametrize("bad", ["../evil.txt", "LA/../../evil.txt", "ABSOLUTE",
                                 "C:/evil.txt", "..\\evil.txt", "symlink"])
def test_malicious_members_refused(tmp_path, bad):
    outside = tmp_path / "outside" / "evil.txt"  # where an absolute member would land
    if bad == "symlink":
        member = (_symlink_info("LA/link"), b"../../outside")
    else:
        member = (zipfile.ZipInfo(str(outside) if bad == "ABSOLUTE" else bad), b"evil")
    archive = _zip_with(tmp_path / "evil.zip", [("LA/good.txt", b"good"), member])
    dest = tmp_path / "dest"
    before = set(tmp_path.rglob("*"))
    with pytest.raises(DownloadError) as info:
        safe_extract_zip(archive, dest, progress=False)
    assert "refusing" in str(info.value) and str(archive) in str(info.value)
    assert set(tmp_path.rglob("*")) == before  # nothing written, inside dest or outside
    assert not outside.exists()


def test_extract_and_skip_existing(tmp_path):
    archive = make_la_zip(tmp_path / "LA.zip")
    names = safe_extract_zip(archive, tmp_path / "out", progress=False)
    assert "LA/ASVspoof2019_LA_train/flac/LA_T_1271820.flac" in names
    flac = tmp_path / "out/LA/ASVspoof2019_LA_eval/flac/LA_E_A8093886.flac"
    assert sf.read(flac)[0].shape == (800,)
    assert not list((tmp_path / "out").rglob("*.tmp"))


def test_corrupt_member_crc(tmp_path):
    archive = _zip_with(tmp_path / "c.zip", [("LA/a.bin", b"A" * 1000), ("LA/b.bin", b"B" * 1000)])
    raw = bytearray(archive.read_bytes())
    i = raw.index(b"B" * 1000)
    raw[i + 10: i + 14] = b"XXXX"  # flipped bytes in a stored member: CRC-32 fails
    archive.write_bytes(bytes(raw))
    with pytest.raises(DownloadError) as info:
        safe_extract_zip(archive, tmp_path / "out", progress=False)
    msg = str(info.value)
    assert str(archive) in msg and "LA/b.bin" in msg and "corrupt" in msg
    assert not (tmp_path / "out/LA/b.bin").exists()
    assert not list((tmp_path / "out").rglob("*.tmp"))


def test_corrupt_deflate_stream(tmp_path):
    archive = make_la_zip(tmp_path / "LA.zip")
    raw = bytearray(archive.read_bytes())
    i = raw.index(b"ASVspoof2019.LA.cm.train.trn.txt") + 40
    for k in range(i, i + 8):
        raw[k] ^= 0x5A
    archive.write_bytes(bytes(raw))
    with pytest.raises(DownloadError, match="corrupt"):
        safe_extract_zip(archive, tmp_path / "out", progress=False)


def test_not_a_zip(tmp_path):
    archive = tmp_path / "LA.zip"
    archive.write_bytes(b"<html>not found</html>")
    with pytest.raises(DownloadError, match="not a readable zip"):
        safe_extract_zip(archive, tmp_path / "out", progress=False)


def test_extract_needs_free_space(tmp_path, monkeypatch):
    archive = make_la_zip(tmp_path / "LA.zip")
    real = dl.shutil.disk_usage
    monkeypatch.setattr(dl.shutil, "disk_usage", lambda p: real(p)._replace(free=10))
    with pytest.raises(DownloadError, match="not enough free disk space"):
        safe_extract_zip(archive, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------------------------
# prepare_la
# --------------------------------------------------------------------------------------------

def test_prepare_la_happy_path_idempotent_force(server, tmp_path):
    url = serve_zip(server, make_la_zip(tmp_path / "LA_src.zip"))
    dest = tmp_path / "data"
    la = prepare_la(dest, url=url, **FAST)
    assert la == dest / "LA" and (la / COMPLETE_MARKER).is_file()
    for split, rows in UTTS.items():
        for _, utt, _, _ in rows:
            assert (la / f"ASVspoof2019_LA_{split}/flac/{utt}.flac").is_file()
    assert (la / "ASVspoof2019_LA_asv_scores/ASVspoof2019.LA.asv.dev.gi.trl.scores.txt").is_file()
    assert (dest / "LA.zip").is_file()
    assert len(server.requests) == 1

    # Second run: marker present -> returns at once, no HTTP request.
    assert prepare_la(dest, url=url, **FAST) == la
    assert len(server.requests) == 1

    # --force: extracts and verifies again from the archive already there (no request).
    victim = la / "ASVspoof2019_LA_dev/flac/LA_D_1000002.flac"
    victim.unlink()
    assert prepare_la(dest, url=url, **FAST) == la and not victim.exists()
    prepare_la(dest, url=url, force=True, **FAST)
    assert victim.is_file() and len(server.requests) == 1

    # --force after the archive was removed downloads it again.
    (dest / "LA.zip").unlink()
    prepare_la(dest, url=url, force=True, remove_archive=True, **FAST)
    assert len(server.requests) == 2 and not (dest / "LA.zip").exists()
    assert (la / COMPLETE_MARKER).is_file()


def test_prepare_la_resumes_cut_download(server, tmp_path):
    data = make_la_zip(tmp_path / "LA_src.zip").read_bytes()
    url = serve_zip(server, tmp_path / "LA_src.zip")
    server.drop_after["/LA.zip"] = [len(data) // 3]
    la = prepare_la(tmp_path / "d", url=url, sha256=sha(data), **FAST)
    assert (la / COMPLETE_MARKER).is_file()
    assert [r[1] for r in server.requests] == [None, f"bytes={len(data) // 3}-"]


def test_prepare_la_with_existing_zip(tmp_path, closed_port_url):
    archive = make_la_zip(tmp_path / "mine.zip")
    la = prepare_la(tmp_path / "d", url=closed_port_url, zip_path=archive, **FAST)
    assert (la / COMPLETE_MARKER).is_file()
    assert not (tmp_path / "d" / "LA.zip").exists() and archive.is_file()


def test_prepare_la_remove_archive(server, tmp_path):
    url = serve_zip(server, make_la_zip(tmp_path / "LA_src.zip"))
    la = prepare_la(tmp_path / "d", url=url, remove_archive=True, **FAST)
    assert (la / COMPLETE_MARKER).is_file() and not (tmp_path / "d" / "LA.zip").exists()


def test_missing_utterance_is_named_and_archive_kept(server, tmp_path):
    url = serve_zip(server, make_la_zip(tmp_path / "LA_src.zip", omit={"LA_E_A8093886"}))
    dest = tmp_path / "d"
    with pytest.raises(DataError) as info:
        prepare_la(dest, url=url, remove_archive=True, **FAST)
    msg = str(info.value)
    assert "LA_E_A8093886" in msg and "1 utterance" in msg
    assert not (dest / "LA" / COMPLETE_MARKER).exists()
    assert (dest / "LA.zip").is_file()  # not removed: verification failed


def test_many_missing_utterances_summarised(tmp_path):
    omit = {f"LA_T_9{i:06d}" for i in range(12)}
    archive = make_la_zip(tmp_path / "LA.zip", extra_train=12, omit=omit)
    with pytest.raises(DataError) as info:
        prepare_la(tmp_path / "d", zip_path=archive, **FAST)
    msg = str(info.value)
    assert "12 utterance(s)" in msg and "and 7 more" in msg and "LA_T_9000000" in msg


def test_official_counts_enforced(tmp_path):
    archive = make_la_zip(tmp_path / "LA.zip")
    with pytest.raises(DataError, match="25,380"):
        prepare_la(tmp_path / "d", zip_path=archive, expected_counts="official", **FAST)
    assert not (tmp_path / "d/LA" / COMPLETE_MARKER).exists()
    counts = verify_la(tmp_path / "d/LA", {"train": 2, "dev": 2, "eval": 2})
    assert counts == {"train": 2, "dev": 2, "eval": 2}


def test_official_url_implies_official_counts(tmp_path, monkeypatch):
    archive = make_la_zip(tmp_path / "LA.zip")
    seen = []

    def fake_download(url, dest, sha256=None, **kwargs):
        seen.append(url)
        return archive

    monkeypatch.setattr(dl, "download_file", fake_download)
    with pytest.raises(DataError, match="71,237"):
        prepare_la(tmp_path / "d", **FAST)
    assert seen == [dl.OFFICIAL_LA_URL]


def test_archive_without_la_folder(tmp_path):
    archive = make_la_zip(tmp_path / "LA.zip", top="PA")
    with pytest.raises(DownloadError, match="no top-level LA/"):
        prepare_la(tmp_path / "d", zip_path=archive, **FAST)


def test_interrupted_extraction_is_not_complete(server, tmp_path, monkeypatch):
    url = serve_zip(server, make_la_zip(tmp_path / "LA_src.zip"))
    dest = tmp_path / "d"
    real_replace, calls = os.replace, []

    def crash_on_fourth(src, dst):
        calls.append(dst)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_fourth)
    with pytest.raises(KeyboardInterrupt):
        prepare_la(dest, url=url, **FAST)
    monkeypatch.undo()
    assert (dest / "LA.zip").is_file()  # the download itself finished (replace #1)
    assert (dest / "LA").is_dir() and not (dest / "LA" / COMPLETE_MARKER).exists()
    assert not list(dest.rglob("*.tmp"))
    la = prepare_la(dest, url=url, **FAST)  # continues: no new request
    assert (la / COMPLETE_MARKER).is_file() and len(server.requests) == 1


def test_interrupted_before_marker_is_not_complete(tmp_path, monkeypatch):
    archive = make_la_zip(tmp_path / "LA.zip")

    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(dl, "verify_corpus", interrupt)
    with pytest.raises(KeyboardInterrupt):
        prepare_la(tmp_path / "d", zip_path=archive, **FAST)
    assert not (tmp_path / "d/LA" / COMPLETE_MARKER).exists()
    monkeypatch.undo()
    assert (prepare_la(tmp_path / "d", zip_path=archive, **FAST) / COMPLETE_MARKER).is_file()


# --------------------------------------------------------------------------------------------
# download_pretrained
# --------------------------------------------------------------------------------------------

def test_download_pretrained_real_hashes(server, tmp_path):
    for name in PRETRAINED_SHA256:
        server.files[f"/models/weights/{name}.pth"] = \
            (REFERENCE_WEIGHTS / f"{name}.pth").read_bytes()
    base = server.url("/models/weights/")
    paths = download_pretrained(tmp_path / "w", base_url=base, **FAST)
    assert set(paths) == {"AASIST", "AASIST-L"}
    for name, path in paths.items():
        assert path == tmp_path / "w" / f"{name}.pth"
        assert sha(path.read_bytes()) == PRETRAINED_SHA256[name]
    assert len(server.requests) == 2
    download_pretrained(tmp_path / "w", base_url=base, **FAST)  # idempotent
    assert len(server.requests) == 2


def test_download_pretrained_corrupt_copy(server, tmp_path):
    data = bytearray((REFERENCE_WEIGHTS / "AASIST-L.pth").read_bytes())
    data[1000] ^= 0x01
    server.files["/w/AASIST-L.pth"] = bytes(data)
    with pytest.raises(DownloadError, match="SHA-256 mismatch.*AASIST-L.pth"):
        download_pretrained(tmp_path / "w", ["AASIST-L"], base_url=server.url("/w"), **FAST)
    assert not list((tmp_path / "w").iterdir())


def test_download_pretrained_unknown_name(tmp_path):
    with pytest.raises(DownloadError, match="valid names: AASIST, AASIST-L"):
        download_pretrained(tmp_path, ["RawNet2"], progress=False)


# --------------------------------------------------------------------------------------------
# Scripts (subprocess): one-line errors, no tracebacks
# --------------------------------------------------------------------------------------------

def run_script(name, *args, cwd):
    env = {**os.environ, "no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost"}
    return subprocess.run([sys.executable, str(REPO / "scripts" / name), *map(str, args)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def assert_one_line_error(proc, *needles):
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0]


def test_script_404_one_line(server, tmp_path, capsys):
    url = server.url("/nope/LA.zip")
    proc = run_in_process(capsys, "download_dataset.py", "--url", url, "--dest", tmp_path)
    assert_one_line_error(proc, "404", url)


def run_in_process(capsys, name, *args):
    code = load_script(name).main([str(a) for a in args])
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


def test_script_corrupt_archive_one_line(tmp_path, capsys):
    archive = tmp_path / "LA.zip"
    archive.write_bytes(b"PK\x03\x04 this is not really a zip")
    proc = run_in_process(capsys, "download_dataset.py", "--zip", archive, "--dest", tmp_path / "d",
                          "--no-progress")
    assert_one_line_error(proc, str(archive))


def test_script_crc_error_one_line(tmp_path, capsys):
    archive = make_la_zip(tmp_path / "LA.zip", compression=zipfile.ZIP_STORED)
    raw = bytearray(archive.read_bytes())
    i = raw.index(b"LA_0079 LA_T_1271820")
    raw[i:i + 7] = b"XXXXXXX"
    archive.write_bytes(bytes(raw))
    proc = run_in_process(capsys, "download_dataset.py", "--zip", archive, "--dest", tmp_path / "d",
                          "--no-progress")
    assert_one_line_error(proc, str(archive), "ASVspoof2019.LA.cm.train.trn.txt")
    assert not (tmp_path / "d/LA" / COMPLETE_MARKER).exists()


def test_script_missing_files_one_line(tmp_path, capsys):
    archive = make_la_zip(tmp_path / "LA.zip", omit={"LA_D_1000003"})
    proc = run_in_process(capsys, "download_dataset.py", "--zip", archive, "--dest", tmp_path / "d",
                          "--no-progress")
    assert_one_line_error(proc, "LA_D_1000003")


def test_script_disk_full_one_line(server, tmp_path, capsys, monkeypatch):
    url = serve_zip(server, make_la_zip(tmp_path / "LA_src.zip"))
    real = dl.shutil.disk_usage
    monkeypatch.setattr(dl.shutil, "disk_usage", lambda p: real(p)._replace(free=100))
    proc = run_in_process(capsys, "download_dataset.py", "--url", url, "--dest", tmp_path / "d")
    assert_one_line_error(proc, "not enough free disk space")


def test_script_network_loss_one_line(closed_port_url, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(dl.time, "sleep", lambda s: None)  # no real backoff waits
    proc = run_in_process(capsys, "download_dataset.py", "--url", closed_port_url,
                          "--dest", tmp_path / "d")
    assert_one_line_error(proc, "failed after 6 attempts", closed_port_url)


@pytest.mark.slow
def test_script_happy_path_default_dest(server, tmp_path):
    url = serve_zip(server, make_la_zip(tmp_path / "LA_src.zip"))
    work = tmp_path / "clone"
    work.mkdir()
    proc = run_script("download_dataset.py", "--url", url, "--remove-archive", cwd=work)
    assert proc.returncode == 0, proc.stderr
    assert (work / "LA" / COMPLETE_MARKER).is_file() and not (work / "LA.zip").exists()
    assert "ready" in proc.stdout
    proc = run_script("download_dataset.py", "--url", url, cwd=work)
    assert proc.returncode == 0 and len(server.requests) == 1


def test_script_pretrained(server, tmp_path, capsys, monkeypatch):
    for name in PRETRAINED_SHA256:
        server.files[f"/w/{name}.pth"] = (REFERENCE_WEIGHTS / f"{name}.pth").read_bytes()
    monkeypatch.chdir(tmp_path)  # default --dest is weights/ under the working directory
    proc = run_in_process(capsys, "download_pretrained.py", "--base-url", server.url("/w/"),
                          "--no-progress")
    assert proc.returncode == 0, proc.stderr
    for name in PRETRAINED_SHA256:
        assert sha((tmp_path / "weights" / f"{name}.pth").read_bytes()) == PRETRAINED_SHA256[name]


def test_script_pretrained_404_one_line(server, tmp_path, capsys):
    proc = run_in_process(capsys, "download_pretrained.py", "--base-url", server.url("/none/"),
                          "--dest", tmp_path / "w")
    assert_one_line_error(proc, "404", "AASIST.pth")


# --------------------------------------------------------------------------------------------
# tar archives and the other corpora (archives built from generated corpora in each layout)
# --------------------------------------------------------------------------------------------

def make_tar(path: Path, base: Path, names: list[str], mode: str = "w:gz") -> Path:
    """A tar of the files and folders ``names`` (relative to ``base``), stored under them."""
    with tarfile.open(path, mode) as tf:
        for name in names:
            tf.add(base / name, arcname=name)
    return path


def _tar_with(path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    with tarfile.open(path, "w") as tf:
        for info, data in members:
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def _special(name: str, kind: bytes, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


@pytest.mark.parametrize("bad", ["../evil.txt", "LA/../../evil.txt", "ABSOLUTE", "symlink",
                                 "hardlink", "fifo", "device"])
def test_malicious_tar_members_refused(tmp_path, bad):
    outside = tmp_path / "outside" / "evil.txt"
    member = {
        "symlink": (_special("LA/link", tarfile.SYMTYPE, "../../outside"), b""),
        "hardlink": (_special("LA/link", tarfile.LNKTYPE, "/etc/passwd"), b""),
        "fifo": (_special("LA/fifo", tarfile.FIFOTYPE), b""),
        "device": (_special("LA/dev", tarfile.CHRTYPE), b""),
    }.get(bad) or (tarfile.TarInfo(str(outside) if bad == "ABSOLUTE" else bad), b"evil")
    archive = _tar_with(tmp_path / "evil.tar", [(tarfile.TarInfo("LA/good.txt"), b"good"), member])
    before = set(tmp_path.rglob("*"))
    with pytest.raises(DownloadError) as info:
        dl.safe_extract(archive, tmp_path / "dest", progress=False)
    assert "refusing" in str(info.value) and str(archive) in str(info.value)
    assert set(tmp_path.rglob("*")) == before and not outside.exists()


def test_tar_gz_extract_and_skip_existing(tmp_path):
    (tmp_path / "src" / "top" / "sub").mkdir(parents=True)
    for i in range(3):
        (tmp_path / "src" / "top" / "sub" / f"{i}.bin").write_bytes(payload(5000, seed=i))
    archive = make_tar(tmp_path / "a.tar.gz", tmp_path / "src", ["top"])
    names = dl.safe_extract(archive, tmp_path / "out", progress=False)
    assert "top/sub/2.bin" in names
    assert (tmp_path / "out/top/sub/1.bin").read_bytes() == payload(5000, seed=1)
    (tmp_path / "out/top/sub/1.bin").write_bytes(b"torn")  # an interrupted earlier write
    before = (tmp_path / "out/top/sub/0.bin").stat().st_mtime_ns
    dl.safe_extract(archive, tmp_path / "out", progress=False, skip_existing=True)
    assert (tmp_path / "out/top/sub/1.bin").read_bytes() == payload(5000, seed=1)
    assert (tmp_path / "out/top/sub/0.bin").stat().st_mtime_ns == before  # whole: not rewritten
    assert not list((tmp_path / "out").rglob("*.tmp"))


@pytest.mark.parametrize("damage", ["flip", "truncate", "not_an_archive"])
def test_damaged_tar_gz_writes_nothing(tmp_path, damage):
    (tmp_path / "src" / "top").mkdir(parents=True)
    for i in range(4):
        (tmp_path / "src" / "top" / f"{i}.bin").write_bytes(payload(40_000, seed=i))
    archive = make_tar(tmp_path / "a.tar.gz", tmp_path / "src", ["top"])
    raw = bytearray(archive.read_bytes())
    if damage == "flip":  # inside the compressed stream: the gzip CRC (or inflate) fails
        for k in range(len(raw) // 2, len(raw) // 2 + 4):
            raw[k] ^= 0x55
    elif damage == "truncate":
        raw = raw[: len(raw) * 2 // 3]
    else:
        raw = bytearray(b"<html>not found</html>")
    archive.write_bytes(bytes(raw))
    with pytest.raises(DownloadError, match="not a readable tar archive.*delete it"):
        dl.safe_extract(archive, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def _archives(name: str, root: Path, work: Path) -> list[Path]:
    """The generated corpus at ``root`` packed as its release packs it."""
    if name == "la2021":
        return [make_tar(work / "ASVspoof2021_LA_eval.tar.gz", root, ["ASVspoof2021_LA_eval"]),
                make_tar(work / "LA-keys-full.tar.gz", root, ["keys"])]
    if name == "df2021":  # a multi-part release: the audio split over two archives
        flac = sorted(p.relative_to(root).as_posix() for p in (root / "ASVspoof2021_DF_eval/flac").iterdir())
        half = len(flac) // 2
        return [make_tar(work / "ASVspoof2021_DF_eval_part00.tar.gz", root, flac[:half]),
                make_tar(work / "ASVspoof2021_DF_eval_part01.tar.gz", root, flac[half:]),
                make_tar(work / "DF-keys-full.tar.gz", root, ["keys"])]
    if name == "itw":
        zip_path = work / "release_in_the_wild.zip"
        with zipfile.ZipFile(zip_path, "w") as zf:
            for path in sorted(root.iterdir()):
                zf.write(path, f"release_in_the_wild/{path.name}")
        return [zip_path]
    protocols = work / "protocols"  # the protocol archive holds a folder here
    (protocols / "ASVspoof5_protocols").mkdir(parents=True)
    for tsv in root.glob("*.tsv"):
        shutil.copy(tsv, protocols / "ASVspoof5_protocols" / tsv.name)
    return [make_tar(work / "ASVspoof5_protocols.tar.gz", protocols, ["ASVspoof5_protocols"])] + [
        make_tar(work / f"{folder}_aa.tar", root, [folder], "w")
        for folder in ("flac_T", "flac_D", "flac_E_eval")]


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    """name -> (archives as the release names them, trials per split) of each corpus."""
    out = {}
    for name in ("la2021", "df2021", "itw", "asvspoof5"):
        work = tmp_path_factory.mktemp(name)
        root = make_mini_corpus(name, work / "generated")
        out[name] = (_archives(name, root, work), verify_corpus(name, root))
    return out


def _corpus_serving(server, name: str, archives: list[Path], pin=True, **changes):
    """The registry entry, with these archives (MD5s pinned like the official ones)."""
    for path in archives:
        server.files[f"/{path.name}"] = path.read_bytes()
    entries = tuple(Archive(p.name, server.url(f"/{p.name}"),
                            md5=hashlib.md5(p.read_bytes()).hexdigest() if pin else None)
                    for p in archives)
    return dataclasses.replace(get_corpus(name), archives=entries, **changes)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["la2021", "df2021", "itw", "asvspoof5"])
def test_prepare_every_corpus_from_its_archives(server, tmp_path, packed, name):
    archives, counts = packed[name]
    corpus = _corpus_serving(server, name, archives)
    dest = tmp_path / "data"
    root = prepare_corpus(corpus, dest, mirror=server.url("/"), **FAST)
    assert root == dest / corpus.root and verify_corpus(name, root) == counts
    marker = json.loads((root / COMPLETE_MARKER).read_text())
    assert marker["counts"] == counts and set(marker["archives"]) == {p.name for p in archives}
    for path in archives:  # size and checksums recorded
        record = marker["archives"][path.name]
        assert (record["size"], record["sha256"]) == (path.stat().st_size, sha(path.read_bytes()))
    assert len(server.requests) == len(archives)
    assert prepare_corpus(corpus, dest, mirror=server.url("/"), **FAST) == root  # done: no request
    assert len(server.requests) == len(archives)


@pytest.mark.slow
def test_prepare_corpus_continues_after_an_interruption(server, tmp_path, packed, monkeypatch):
    archives, counts = packed["df2021"]
    corpus = _corpus_serving(server, "df2021", archives)
    real, calls = dl.safe_extract, []

    def interrupt_second(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(dl, "safe_extract", interrupt_second)
    with pytest.raises(KeyboardInterrupt):
        prepare_corpus(corpus, tmp_path, **FAST)
    monkeypatch.undo()
    assert not (tmp_path / corpus.root / COMPLETE_MARKER).exists()
    root = prepare_corpus(corpus, tmp_path, **FAST)
    assert verify_corpus("df2021", root) == counts
    # part00 was extracted and recorded before the interruption: not fetched again
    assert [r[0] for r in server.requests].count("/ASVspoof2021_DF_eval_part00.tar.gz") == 1


def test_published_checksum_mismatch_removes_the_archive(server, tmp_path, packed):
    archives, _ = packed["itw"]
    corpus = _corpus_serving(server, "itw", archives)
    corpus = dataclasses.replace(corpus, archives=(dataclasses.replace(corpus.archives[0], md5="0" * 32),))
    with pytest.raises(DownloadError, match="MD5 mismatch.*published checksum.*removed"):
        prepare_corpus(corpus, tmp_path, **FAST)
    assert not (tmp_path / "release_in_the_wild.zip").exists()
    assert not (tmp_path / corpus.root / COMPLETE_MARKER).exists()


def test_recorded_checksums_guard_a_later_download(server, tmp_path, packed):
    archives, _ = packed["itw"]
    corpus = _corpus_serving(server, "itw", archives, pin=False)  # nothing published
    prepare_corpus(corpus, tmp_path, remove_archives=True, **FAST)
    assert not (tmp_path / "release_in_the_wild.zip").exists()
    server.files["/release_in_the_wild.zip"] = b"PK" + payload(1000)  # changed on the server
    with pytest.raises(DownloadError, match="SHA-256 mismatch.*recorded at the first download"):
        prepare_corpus(corpus, tmp_path, force=True, **FAST)


def test_prepare_checks_official_counts_only_without_a_mirror(server, tmp_path, packed):
    archives, counts = packed["asvspoof5"]
    corpus = _corpus_serving(server, "asvspoof5", archives)
    with pytest.raises(DataError, match="official ASVspoof 5 sizes: train: 12 .expected 182,357."):
        prepare_corpus(corpus, tmp_path, **FAST)  # the entry's own URLs: the official release


def test_script_other_corpus_reports_recorded_checksums(server, tmp_path, packed, capsys, monkeypatch):
    archives, _ = packed["itw"]
    for path in archives:
        server.files[f"/{path.name}"] = path.read_bytes()
    # the registry's In-the-Wild entry publishes no checksum, so nothing to pin here
    proc = run_in_process(capsys, "download_dataset.py", "--corpus", "itw", "--mirror",
                          server.url("/"), "--dest", tmp_path / "d", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "release_in_the_wild ready at" in proc.stdout
    assert f"sha256 {sha(archives[0].read_bytes())}" in proc.stdout
    proc = run_in_process(capsys, "download_dataset.py", "--corpus", "itw", "--zip", "x.zip")
    assert_one_line_error(proc, "--zip apply to corpora that come as one zip (la2019), not to itw")
