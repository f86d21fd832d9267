"""Load and fault figures of `aasist serve`: throughput, latency, memory, and what bombs get.

    python -m experiments.serve_load [--clients 16,64] [--seconds 30] [--retry-after honour|ignore]
                                     [--serve-arg=--queue=8 ...] [--no-faults] [--json OUT]

For each client count it starts ``python -m aasist serve --port 0`` (the bundled official
AASIST-L unless ``--serve-arg`` says otherwise) in a subprocess with a temporary folder of its
own (TMPDIR), sends one warm-up request, then runs N client threads for T seconds, each
POSTing a 4 s 16 kHz WAV over its own keep-alive connection (``http.client``) as fast as the
server answers; a client that gets 503 waits its Retry-After (``--retry-after honour``,
the default) or posts again at once (``ignore``). It reports requests/s, p50/p95 latency of
the 200s, status counts, whether every body was JSON, the server's resident memory (RSS,
from /proc) before, at its peak during the load, right after it and once the queue has
drained, the 1-minute load average (other work on the machine shows up there), and that
/api/health answers at the end.

Then (unless ``--no-faults``) a fresh server gets the bombs and faults one after the other,
each timed from the first byte sent to the answer: a 3 h silent FLAC, a 1 Hz WAV, 200 MB
bodies (with a Content-Length and chunked without one), a NUL in the file name, garbage,
an empty body, headers that never finish, a body that stalls, and SIGTERM during a long
upload (how long the process takes to exit, what the client got, and what is left in the
server's temporary folder).

Only the standard library on the client side, so the figures need nothing but the package.
"""
from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- audio


def wav(seconds: float, sr: int = 16000, seed: int = 0) -> bytes:
    """A tone with a little noise, 16-bit WAV."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.01 * rng.standard_normal(t.shape[0])
    buf = io.BytesIO()
    sf.write(buf, x.astype(np.float32), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def silent_flac(seconds: float, sr: int = 16000) -> bytes:
    buf = io.BytesIO()
    with sf.SoundFile(buf, "w", samplerate=sr, channels=1, format="FLAC", subtype="PCM_16") as f:
        left, block = int(seconds * sr), np.zeros(60 * sr, np.int16)
        while left > 0:
            f.write(block[:left])
            left -= block.shape[0]
    return buf.getvalue()


def one_hz_wav(frames: int = 20_000) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.zeros(frames, np.int16), 1, format="WAV", subtype="PCM_16")
    return buf.getvalue()


# --------------------------------------------------------------------------- the server


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (VmRSS of /proc/PID/status)."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


class Server:
    """`python -m aasist serve --port 0 ARGS` in a subprocess, with its own TMPDIR."""

    def __init__(self, args: list[str], root: Path = ROOT):
        self.tmp = Path(tempfile.mkdtemp(prefix="serve-load-tmp-"))
        env = dict(os.environ, PYTHONPATH=str(root), TMPDIR=str(self.tmp))
        self.proc = subprocess.Popen([sys.executable, "-m", "aasist", "serve", "--port", "0",
                                      *args], cwd=root, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("serving on http://"):
            self.proc.kill()
            raise RuntimeError(f"the server did not start: {line!r} {self.proc.stderr.read()}")
        self.url = line.split()[2]
        self.host, port = self.url.rsplit("/", 1)[1].rsplit(":", 1)
        self.port = int(port)
        self.tmp_at_start = sorted(os.listdir(self.tmp))
        self.stderr: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:  # keep the pipe from filling up; keep the text for the report
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip())

    def rss(self) -> float:
        return rss_mb(self.proc.pid)

    def connection(self, timeout: float = 300) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def health(self) -> dict:
        conn = self.connection(30)
        try:
            conn.request("GET", "/api/health")
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)
        return self.proc.returncode


def post(conn: http.client.HTTPConnection, path: str, body: bytes,
         headers: Optional[dict] = None) -> tuple[int, dict, Optional[dict], float]:
    """(status, headers, JSON body or None if not JSON, seconds)."""
    t0 = time.perf_counter()
    conn.request("POST", path, body=body, headers=headers or {})
    response = conn.getresponse()
    raw = response.read()
    took = time.perf_counter() - t0
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    return response.status, dict(response.getheaders()), data, took


# --------------------------------------------------------------------------- load


def load(server: Server, clients: int, seconds: float, honour: bool) -> dict:
    body = wav(4.0)
    path = "/api/score?name=load.wav"
    warm = post(server.connection(), path, body)
    if warm[0] != 200:
        raise RuntimeError(f"warm-up request failed: {warm}")
    rss_before, load_before = server.rss(), os.getloadavg()[0]
    peak = [rss_before]
    stop_sampling = threading.Event()

    def sample() -> None:
        while not stop_sampling.wait(0.1):
            peak[0] = max(peak[0], server.rss())

    records: list[tuple[int, float, bool]] = []  # status (0: connection error), seconds, JSON
    errors: Counter = Counter()  # connection errors by kind
    lock = threading.Lock()
    start = time.monotonic()
    deadline = start + seconds

    def client() -> None:
        conn = server.connection()
        while time.monotonic() < deadline:
            try:
                status, headers, data, took = post(conn, path, body)
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    records.append((0, 0.0, False))
                    errors[exc.__class__.__name__] += 1
                conn.close()
                conn = server.connection()
                continue
            ok = isinstance(data, dict) and (("score" in data) if status == 200 else
                                              isinstance(data.get("error"), str))
            with lock:
                records.append((status, took, ok))
            if status == 503 and honour:
                wait = float(headers.get("Retry-After", headers.get("retry-after", "1")))
                conn.close()  # as browsers do: no idle connection the server may close meanwhile
                time.sleep(max(0.0, min(wait, deadline - time.monotonic())))
                conn = server.connection()
        conn.close()

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    rss_after = server.rss()
    t_drain = time.monotonic()
    while True:
        h = server.health()
        if h.get("waiting", 0) == 0 and h.get("running", 0) == 0 \
                or time.monotonic() - t_drain > 120:
            break
        time.sleep(0.2)
    stop_sampling.set()
    sampler.join()
    t0 = time.perf_counter()
    health = server.health()
    health_s = time.perf_counter() - t0
    statuses = Counter(status for status, _, _ in records)
    ok_lat = sorted(took for status, took, _ in records if status == 200)

    def pct(q: float) -> Optional[float]:
        return ok_lat[min(len(ok_lat) - 1, int(q * len(ok_lat)))] if ok_lat else None

    return {"clients": clients, "seconds": round(elapsed, 1), "requests": len(records),
            "requests_per_s": len(records) / elapsed,
            "ok_per_s": statuses.get(200, 0) / elapsed,
            "p50_s": pct(0.50), "p95_s": pct(0.95),
            "median_all_s": statistics.median(t for _, t, _ in records) if records else None,
            "status": {str(k): v for k, v in sorted(statuses.items()) if k},
            "connection_errors": dict(errors),
            "other_5xx": sum(v for k, v in statuses.items() if k >= 500 and k != 503),
            "all_json": all(ok for status, _, ok in records if status),
            "rss_before_mb": rss_before, "rss_peak_mb": peak[0], "rss_after_mb": rss_after,
            "rss_drained_mb": server.rss(), "load1_before": load_before,
            "load1_after": os.getloadavg()[0],
            "health_ok": health.get("status") == "ok", "health_s": health_s,
            "health_done": health.get("done"), "health_cancelled": health.get("cancelled"),
            "retry_after": "honour" if honour else "ignore"}


# --------------------------------------------------------------------------- faults


def raw_exchange(server: Server, head: bytes, body_chunks=(), pause: float = 0.0,
                 read_timeout: float = 120) -> tuple[Optional[int], Optional[dict], float, str]:
    """Send ``head`` then ``body_chunks`` (``pause`` s apart) while watching for an answer;
    (status, JSON body, seconds to the answer, how it ended)."""
    sock = socket.create_connection((server.host, server.port), timeout=read_timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    t0 = time.perf_counter()
    answer = b""
    how = "answered"
    try:
        sock.sendall(head)
        sock.settimeout(0.0)
        for chunk in body_chunks:
            try:
                answer += sock.recv(65536)
                if answer:
                    break
            except BlockingIOError:
                pass
            except OSError:
                how = "reset"
                break
            if pause:
                time.sleep(pause)
            try:
                sock.settimeout(5.0)
                sock.sendall(chunk)
                sock.settimeout(0.0)
            except OSError:  # the server closed it: the answer may be in the buffer
                how = "closed while sending"
                break
        sock.settimeout(read_timeout)
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                break
            if not data:
                break
            answer += data
            if b"\r\n\r\n" in answer:
                head_part, _, rest = answer.partition(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head_part.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), None)
                if length is not None and len(rest) >= length:
                    break
    finally:
        took = time.perf_counter() - t0
        sock.close()
    if not answer:
        return None, None, took, how if how != "answered" else "no answer"
    head_part, _, rest = answer.partition(b"\r\n\r\n")
    try:
        data = json.loads(rest)
    except ValueError:
        data = None
    return int(head_part.split()[1]), data, took, how


def _ws_frame(payload: bytes, opcode: int = 2) -> bytes:
    """One masked client frame (RFC 6455)."""
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 1 << 16:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    mask = os.urandom(4)
    data = np.frombuffer(payload, np.uint8) ^ np.resize(np.frombuffer(mask, np.uint8), n)
    return head + mask + data.tobytes()


def ws_exchange(server: Server, query: str, messages=()) -> tuple[Optional[dict], Optional[int], float]:
    """Open /api/stream?QUERY, send binary ``messages``; (first JSON text the server sends,
    its close code, seconds until then)."""
    import base64

    sock = socket.create_connection((server.host, server.port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    t0 = time.perf_counter()
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(f"GET /api/stream?{query} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                 f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                 f"Sec-WebSocket-Version: 13\r\n\r\n".encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += sock.recv(4096)
    buf = buf.partition(b"\r\n\r\n")[2]
    for message in messages:
        sock.sendall(_ws_frame(message))
    text, code = None, None

    def read(n: int) -> bytes:
        nonlocal buf
        while len(buf) < n:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
        out, buf = buf[:n], buf[n:]
        return out

    try:
        while code is None:
            b0, b1 = read(2)
            n = b1 & 0x7F
            if n == 126:
                n = int.from_bytes(read(2), "big")
            elif n == 127:
                n = int.from_bytes(read(8), "big")
            payload = read(n)
            if b0 & 0x0F == 1 and text is None:
                text = json.loads(payload)
            elif b0 & 0x0F == 8:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
    except (OSError, ConnectionError):
        pass
    finally:
        took = time.perf_counter() - t0
        sock.close()
    return text, code, took


def faults(args_serve: list[str]) -> list[dict]:
    rows = []
    server = Server(args_serve)

    def add(name: str, status, data, took: float, note: str = "") -> None:
        error = data.get("error") if isinstance(data, dict) else None
        rows.append({"fault": name, "status": status, "seconds": round(took, 3),
                     "json": isinstance(data, dict), "error": error, "note": note,
                     "rss_mb": round(server.rss(), 1)})

    try:
        conn = server.connection()
        rss0 = server.rss()
        flac = silent_flac(3 * 3600)
        status, _, data, took = post(conn, "/api/score?name=silence-3h.flac", flac)
        add("3 h silent FLAC", status, data, took, f"{len(flac):,} bytes")
        one_hz = one_hz_wav()
        status, _, data, took = post(conn, "/api/score?name=1hz.wav", one_hz)
        add("1 Hz WAV", status, data, took, f"{len(one_hz):,} bytes")
        mb = bytes(1 << 20)
        status, data, took, how = raw_exchange(
            server, b"POST /api/score HTTP/1.1\r\nHost: x\r\nContent-Length: 200000000\r\n\r\n",
            [mb] * 191)
        add("200 MB body (Content-Length)", status, data, took, how)
        status, data, took, how = raw_exchange(
            server, b"POST /api/score HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
            [b"%x\r\n%s\r\n" % (len(mb), mb)] * 191)
        add("200 MB body (chunked)", status, data, took, how)
        status, _, data, took = post(conn, "/api/score?name=a%00b.wav", wav(1.0))
        add("NUL in ?name=", status, data, took)
        form = (b'--b0\r\nContent-Disposition: form-data; name="file"; filename="a\x00b.wav"\r\n'
                b"Content-Type: audio/wav\r\n\r\n" + wav(1.0) + b"\r\n--b0--\r\n")
        status, _, data, took = post(conn, "/api/score", form,
                                     {"Content-Type": "multipart/form-data; boundary=b0"})
        add("NUL in multipart filename", status, data, took)
        status, _, data, took = post(conn, "/api/score?name=junk.bin",
                                     np.random.default_rng(1).bytes(100_000))
        add("garbage (100 kB random)", status, data, took)
        status, _, data, took = post(conn, "/api/score", b"")
        add("empty body", status, data, took)
        conn.close()
        data, code, took = ws_exchange(server, "rate=1", [bytes(12_000)])
        add("WebSocket ?rate=1 + 12 kB", f"close {code}", data, took)
        data, code, took = ws_exchange(server, "rate=16000", [bytes(2_000_000)])
        add("WebSocket 2 MB message", f"close {code}", data, took)

        slow = {}

        def slow_headers() -> None:
            slow["headers"] = raw_exchange(server, b"POST /api/score HTTP/1.1\r\nHost: x\r\n")

        def slow_body() -> None:
            slow["body"] = raw_exchange(server, b"POST /api/score HTTP/1.1\r\nHost: x\r\n"
                                                b"Content-Length: 100000\r\n\r\n" + bytes(100))

        threads = [threading.Thread(target=f) for f in (slow_headers, slow_body)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        add("headers never finish", *slow["headers"][:3], slow["headers"][3])
        add("body stalls after 100 bytes", *slow["body"][:3], slow["body"][3])
        h = server.health()
        rows.append({"fault": "health afterwards", "status": 200, "seconds": None,
                     "json": True, "error": None, "note": f"status {h['status']}, "
                     f"done {h['done']}, RSS {server.rss() - rss0:+.0f} MB over the start",
                     "rss_mb": round(server.rss(), 1)})

        # SIGTERM during a long upload
        long = wav(120.0)
        answer: dict = {}

        def long_post() -> None:
            try:
                answer["r"] = post(server.connection(), "/api/score?name=long.wav", long)
            except (OSError, http.client.HTTPException) as exc:
                answer["r"] = (None, {}, None, 0.0, repr(exc))

        t = threading.Thread(target=long_post)
        t.start()
        end = time.monotonic() + 60
        while server.health()["running"] == 0 and time.monotonic() < end:
            time.sleep(0.05)
        time.sleep(1.0)
        t0 = time.perf_counter()
        server.proc.send_signal(signal.SIGTERM)
        code = server.proc.wait(timeout=60)
        exit_s = time.perf_counter() - t0
        t.join(timeout=60)
        status, _, data, _ = answer["r"][:4]
        left = sorted(set(os.listdir(server.tmp)) - set(server.tmp_at_start))
        rows.append({"fault": "SIGTERM during a 120 s upload", "status": status,
                     "seconds": round(exit_s, 3), "json": isinstance(data, dict),
                     "error": data.get("error") if isinstance(data, dict) else None,
                     "note": f"exit code {code} after {exit_s:.1f} s; temporary folder: "
                             f"{'empty' if not left else ', '.join(left)}",
                     "rss_mb": None})
    finally:
        server.stop()
    return rows


# --------------------------------------------------------------------------- report


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def _f(value, fmt: str = "{:.2f}") -> str:
    return "-" if value is None else fmt.format(value)


def markdown(meta: dict, loads: list[dict], fault_rows: list[dict]) -> str:
    lines = [f"Measured {meta['date']} on {meta['cpu']}, torch {meta['torch']}, Python "
             f"{meta['python']}; `{meta['command']}`", ""]
    if loads:
        lines += ["| clients | s | requests | req/s | 200/s | p50 200 (s) | p95 200 (s) | status counts "
                  "| connection errors | other 5xx | all JSON | RSS before / peak / after / drained "
                  "(MB) | load1 before / after | health at the end |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in loads:
            counts = ", ".join(f"{k}: {v}" for k, v in r["status"].items())
            lines.append(
                f"| {r['clients']} | {r['seconds']:.0f} | {r['requests']} | "
                f"{r['requests_per_s']:.2f} | {r['ok_per_s']:.2f} | {_f(r['p50_s'])} | "
                f"{_f(r['p95_s'])} | {counts} | "
                f"{', '.join(f'{k}: {v}' for k, v in r['connection_errors'].items()) or 0} | "
                f"{r['other_5xx']} | "
                f"{'yes' if r['all_json'] else 'NO'} | {r['rss_before_mb']:.0f} / "
                f"{r['rss_peak_mb']:.0f} / {r['rss_after_mb']:.0f} / {r['rss_drained_mb']:.0f} | "
                f"{r['load1_before']:.2f} / {r['load1_after']:.2f} | "
                f"{'ok' if r['health_ok'] else 'NO'} in {r['health_s'] * 1000:.0f} ms |")
        lines.append("")
    if fault_rows:
        lines += ["| bomb or fault | status | seconds | JSON | error | note |",
                  "|---|---|---|---|---|---|"]
        for r in fault_rows:
            error = (r["error"] or "").replace("|", "\\|")
            lines.append(f"| {r['fault']} | {r['status']} | {_f(r['seconds'], '{:.3f}')} | "
                         f"{'yes' if r['json'] else 'no'} | {error} | {r['note']} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="16,64", help="client counts, comma-separated")
    parser.add_argument("--seconds", type=float, default=30.0, help="load duration per count")
    parser.add_argument("--retry-after", choices=["honour", "ignore"], default="honour")
    parser.add_argument("--serve-arg", action="append", default=[], metavar="ARG",
                        help="an argument for `aasist serve` (repeat; e.g. --serve-arg=--queue=4)")
    parser.add_argument("--no-faults", action="store_true")
    parser.add_argument("--no-load", action="store_true")
    parser.add_argument("--json", help="write the figures here as JSON too")
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="serve from this checkout instead (an older version, to compare; "
                             "its load only: --no-faults)")
    args = parser.parse_args(argv)
    serve_args = [a for arg in args.serve_arg for a in arg.split("=", 1)]

    import torch

    meta = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "cpu": cpu_name(),
            "torch": torch.__version__, "python": platform.python_version(),
            "command": "python -m experiments.serve_load " + " ".join(argv or sys.argv[1:])}
    loads = []
    if not args.no_load:
        for clients in (int(c) for c in args.clients.split(",") if c):
            server = Server(serve_args, args.root)
            try:
                result = load(server, clients, args.seconds, args.retry_after == "honour")
            finally:
                code = server.stop()
            result["exit_code"] = code
            result["server_stderr"] = server.stderr[-20:]
            loads.append(result)
            print(json.dumps(result), file=sys.stderr, flush=True)
    fault_rows = [] if args.no_faults else faults(serve_args)
    print(markdown(meta, loads, fault_rows))
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": meta, "load": loads, "faults": fault_rows},
                                              indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
