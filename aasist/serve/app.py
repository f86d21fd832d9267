"""HTTP and WebSocket front of a :class:`~aasist.predict.Detector`, on Starlette + uvicorn.

Routes::

    GET  /             the page (static/index.html): drop or pick a file, or record
    POST /api/score    an audio file as the raw body or as multipart field "file"
                       -> predict's JSON for it, with "timeline"
    GET  /api/health   {"status": "ok", "model": ..., the limits, the queue}
    WS   /api/stream   ?rate=R: binary messages of float32 mono PCM at R Hz, then the text
                       "end" -> one JSON message per window (stream's lines), then
                       {"done": true, "skipped": N}

Scoring is the library's (Engine.score_clips, Detector.result, StreamScorer); this module
moves bytes and keeps one request from taking the machine.

Limits (:class:`Limits`, the ``serve`` options), checked before any decoding
    The body is counted while it arrives (413 past ``--max-upload-mb``, 408 when it stalls
    for ``--read-timeout`` s or takes longer than ``--body-timeout`` s). Then only the audio
    header is read (:func:`aasist.data.audio.audio_info` on the bytes in memory; nothing is
    written to disk): a sample rate outside 8-192 kHz is a 422, audio longer than
    ``--max-duration`` s, or holding more than ``--max-duration`` x 96,000 decoded samples
    (frames x channels: 48 kHz stereo), is a 413. A file whose header lies about its
    length cannot grow either: libsndfile decodes at most the frames the header declares.

One model runner
    Every upload is decoded and scored on a single worker thread, one after the other; at
    most ``--queue`` wait for it, and a request that finds the queue full gets a 503 with
    ``Retry-After``. While a request waits or runs, its connection is watched: a client that
    goes away has its job skipped (not started yet) or stopped before its next forward
    pass; so does a job past ``--score-timeout`` (503 if it never started, 504 if it did).
    Live streams (``--max-streams`` at once, close code 1013 beyond that) each get their
    own thread, since they block on their input; all forward passes share the Engine's
    lock, so they run one at a time.

Connections (:func:`run_server`)
    uvicorn 0.55 has no timeout for a request whose headers never finish (its keep-alive
    timer is cancelled by any byte), so the server runs a subclass of uvicorn's h11
    protocol that gives each request ``--read-timeout`` s for its headers (408, then the
    connection is closed), gives a client still sending a body the server already refused
    the same time to finish, answers malformed requests in JSON, and answers a request on a
    connection beyond ``--max-connections`` with a JSON 503. SIGTERM or Ctrl-C: no new
    work; waiting jobs are answered 503 at once, the running one has
    :data:`SHUTDOWN_GRACE_S` s to finish before it is stopped, and uvicorn closes what is
    left after :data:`GRACEFUL_SHUTDOWN_S` s.

Access: with a token (``--token`` or ``AASIST_SERVE_TOKEN``) every ``/api/`` route needs
``Authorization: Bearer <token>`` (the WebSocket may pass ``?token=``); the page and its
static files stay public and pass the token of their own URL (``/?token=...``) on. Without a
token the server listens on loopback addresses only.

Every error is JSON ``{"error": "..."}``: 400 (no audio, a bad file name, a malformed
request), 401 (token), 408 (slow client), 413 (over a limit), 422 (not audio the model can
score), 503 (busy or shutting down), 504 (scoring timeout); the server keeps serving.
"""
from __future__ import annotations

import asyncio
import contextlib
import hmac
import io
import ipaddress
import json
import math
import signal
import socket
import threading
import time
import unicodedata
from concurrent.futures import CancelledError as FutureCancelled
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, Optional

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..data.audio import audio_info, read_audio
from ..errors import AasistError, Cancelled, ConfigError, DataError
from ..inference import cut_windows
from ..predict import Detector
from ..stream import Feed, PcmDecoder, StreamScorer

STATIC = Path(__file__).resolve().parent / "static"
TOKEN_ENV = "AASIST_SERVE_TOKEN"

DEFAULT_MAX_UPLOAD_MB = 100
DEFAULT_MAX_DURATION_S = 600.0
DEFAULT_QUEUE = 8
DEFAULT_MAX_STREAMS = 2
DEFAULT_SCORE_TIMEOUT_S = 300.0  # a 10 min file took 115-130 s on 2 cores
DEFAULT_READ_TIMEOUT_S = 15.0
DEFAULT_BODY_TIMEOUT_S = 120.0
DEFAULT_MAX_CONNECTIONS = 128

MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 8_000, 192_000
#: Decoded samples (frames x channels) allowed per second of --max-duration: 48 kHz stereo.
SAMPLES_PER_LIMIT_SECOND = 96_000
#: Largest WebSocket message the app accepts (uvicorn drops the connection at 4x this).
MAX_WS_MESSAGE = 1 << 20
#: Longest accepted upload file name, in characters.
MAX_NAME_CHARS = 255
#: Seconds the running job may go on after SIGTERM before it is stopped.
SHUTDOWN_GRACE_S = 3.0
#: Seconds uvicorn waits for open connections after SIGTERM before it cancels them.
GRACEFUL_SHUTDOWN_S = 5
_UNKNOWN_LENGTH = 1 << 62  # libsndfile reports SF_COUNT_MAX for a stream without a length
_FEED_BACKLOG = 32  # WebSocket messages waiting for the scorer before the reader pauses


@dataclass(frozen=True)
class Limits:
    """What one client may ask of the server (the ``serve`` options of the same names)."""

    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB
    max_duration_s: float = DEFAULT_MAX_DURATION_S
    queue: int = DEFAULT_QUEUE
    max_streams: int = DEFAULT_MAX_STREAMS
    score_timeout_s: float = DEFAULT_SCORE_TIMEOUT_S
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S

    _OPTIONS = {"max_upload_mb": "--max-upload-mb", "max_duration_s": "--max-duration",
                "queue": "--queue", "max_streams": "--max-streams",
                "score_timeout_s": "--score-timeout", "read_timeout_s": "--read-timeout",
                "body_timeout_s": "--body-timeout"}

    def __post_init__(self) -> None:
        for f in fields(self):
            value, option = getattr(self, f.name), self._OPTIONS[f.name]
            if f.type == "int":
                if not (isinstance(value, int) and not isinstance(value, bool)) or value < 0 \
                        or (value == 0 and f.name != "max_streams"):
                    raise ConfigError(f"{option} must be a whole number >= "
                                      f"{0 if f.name == 'max_streams' else 1}, got {value!r}")
            elif not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ConfigError(f"{option} must be a positive number, got {value!r}")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1_000_000)

    @property
    def max_samples(self) -> int:
        """Decoded samples (frames x channels) one upload may hold."""
        return int(self.max_duration_s * SAMPLES_PER_LIMIT_SECOND)

    @property
    def held_bytes_budget(self) -> int:
        """Upload bytes held in memory at once (arriving, waiting, running)."""
        return (self.queue + 2) * self.max_upload_bytes


class _Refusal(Exception):
    """An answer other than 200: becomes ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str, headers: Optional[dict] = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


class _Gone(Exception):
    """The client disconnected; nothing can be answered."""


def _error(status: int, message: str, headers: Optional[dict] = None,
           close: bool = False) -> JSONResponse:
    headers = dict(headers or {})
    if close:  # the request body was not read: the connection cannot carry another one
        headers["connection"] = "close"
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def check_name(name: str) -> str:
    """An upload's file name, or a 400 if it holds control characters or is too long."""
    if len(name) > MAX_NAME_CHARS:
        raise _Refusal(400, f"the file name is {len(name):,} characters long; the limit is "
                            f"{MAX_NAME_CHARS}: rename the file")
    bad = next((c for c in name if unicodedata.category(c) == "Cc"), None)
    if bad is not None:
        raise _Refusal(400, f"the file name holds the control character U+{ord(bad):04X} "
                            f"(NUL, newline, ...): rename the file")
    return name


def is_loopback(host: str) -> bool:
    """True for addresses only this computer can reach (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[] ")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, token: Optional[str]) -> None:
    """ConfigError when ``host`` reaches beyond this computer and no token guards the API."""
    if not token and not is_loopback(host):
        raise ConfigError(f"--host {host} lets other computers reach the server; pass --token "
                          f"SECRET (or set {TOKEN_ENV}) so only clients that know it can use it")


def _bearer(headers: Headers) -> Optional[str]:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


class _Job:
    """One upload to decode and score on the runner thread."""

    def __init__(self, name: str, data: bytes):
        self.name, self.data = name, data
        self.cancel = threading.Event()
        self.reason = ""
        self.started = self.skipped = False
        self.future: Optional[Future] = None


class _Service:
    """The limits, the single model runner and its queue, the live streams."""

    def __init__(self, detector: Detector, model_name: str, hop_seconds: float, limits: Limits,
                 token: Optional[str]):
        self.detector, self.model_name, self.hop_seconds = detector, model_name, hop_seconds
        self.limits, self.token = limits, token or None
        self.lock = threading.Lock()
        self.executor: Optional[ThreadPoolExecutor] = None
        self.waiting = self.running = self.streams = 0
        self.done = self.cancelled = 0
        self.held = 0  # upload bytes in memory
        self.job_s = 1.0  # running mean of a job's time, for Retry-After
        self.jobs: set[_Job] = set()
        self.feeds: set[Feed] = set()
        self.stopping = False
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self._stop_waiters: set[asyncio.Future] = set()

    # ---- the runner

    def _executor(self) -> ThreadPoolExecutor:
        if self.executor is None:
            self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aasist-score")
        return self.executor

    def retry_after(self) -> str:
        return str(max(1, min(120, math.ceil(self.job_s * (self.waiting + self.running)))))

    def submit(self, job: _Job) -> None:
        with self.lock:
            if self.stopping:
                raise _Refusal(503, "the server is shutting down")
            if self.waiting >= self.limits.queue:
                raise _Refusal(503, f"busy: {self.waiting} request(s) already wait for the model "
                                    f"(serve --queue {self.limits.queue}); retry later",
                               {"retry-after": self.retry_after()})
            self.waiting += 1
            self.jobs.add(job)
        job.future = self._executor().submit(self._work, job)

    def cancel(self, job: _Job, reason: str) -> bool:
        """Stop ``job``; True if it had started (it stops before its next forward pass)."""
        with self.lock:
            if not job.cancel.is_set():
                job.reason = reason
                job.cancel.set()
                self.cancelled += 1
            if job.future is not None and not job.skipped and job.future.cancel():
                job.skipped = True  # never started, and never will
                self.waiting -= 1
                self.jobs.discard(job)
            job.data = b""  # a skipped job's bytes need not wait for the runner
            return job.started

    def _work(self, job: _Job) -> dict:
        with self.lock:
            self.waiting -= 1
            self.running += 1
            job.started = True
        t0 = time.monotonic()
        try:
            if job.cancel.is_set():
                raise Cancelled(f"{job.name}: cancelled before it started ({job.reason})")
            x, sample_rate = read_audio(io.BytesIO(job.data), name=job.name)
            job.data = b""
            if job.cancel.is_set():
                raise Cancelled(f"{job.name}: cancelled ({job.reason})")
            det = self.detector
            clip = cut_windows(job.name, x, sample_rate, det.nb_samp, det.hop)
            del x
            (clip,) = det.engine.score_clips([clip], cancelled=job.cancel.is_set)
            result = det.result(clip, timeline=True)
            if "error" in result:
                raise DataError(f"{job.name}: {result['error']}")
            return {**result, "path": job.name}
        finally:
            with self.lock:
                self.running -= 1
                self.done += 1
                self.jobs.discard(job)
                self.job_s = 0.8 * self.job_s + 0.2 * (time.monotonic() - t0)

    # ---- shutdown

    def request_stop(self) -> None:
        """From a signal handler or another thread: begin the shutdown on the event loop."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.begin_stop)
        else:
            self.begin_stop()

    def begin_stop(self) -> None:
        """No new work; waiting jobs are refused now, the running one gets a grace period."""
        if self.stopping:
            return
        with self.lock:
            self.stopping = True
        for waiter in list(self._stop_waiters):
            if not waiter.done():
                waiter.set_result(None)
        for job in list(self.jobs):
            if not job.started:
                self.cancel(job, "the server is shutting down")
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_later(SHUTDOWN_GRACE_S, self.cancel_all)
        else:
            self.cancel_all()

    def cancel_all(self) -> None:
        for job in list(self.jobs):
            self.cancel(job, "the server is shutting down")
        for feed in list(self.feeds):
            feed.end(Cancelled("the server is shutting down"))

    def close(self) -> None:
        """Lifespan end: stop everything; the runner thread ends after its current batch."""
        self.begin_stop()
        self.cancel_all()
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.executor = None

    def reopen(self) -> None:
        """Lifespan start: the app may be served again after a shutdown (tests do)."""
        self.loop = asyncio.get_running_loop()
        with self.lock:
            self.stopping = False

    async def stopped(self) -> None:
        """Wait until the shutdown begins."""
        if self.stopping:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._stop_waiters.add(waiter)
        try:
            await waiter
        finally:
            self._stop_waiters.discard(waiter)

    # ---- health

    def health(self) -> dict:
        det, lim = self.detector, self.limits
        return {"status": "stopping" if self.stopping else "ok", "model": self.model_name,
                "device": str(det.device), "nb_samp": det.nb_samp, "threshold": det.threshold,
                "calibration": det.calibration_name, "prior": det.decision.prior,
                "decision_llr": det.decision.threshold, "vad": det.vad is not None,
                "batch_size": det.batch_size,
                "hop_s": self.hop_seconds, "max_upload_bytes": lim.max_upload_bytes,
                "max_duration_s": lim.max_duration_s, "max_samples": lim.max_samples,
                "sample_rate_range": [MIN_SAMPLE_RATE, MAX_SAMPLE_RATE],
                "queue_size": lim.queue, "waiting": self.waiting, "running": self.running,
                "done": self.done, "cancelled": self.cancelled,
                "streams": self.streams, "max_streams": lim.max_streams,
                "score_timeout_s": lim.score_timeout_s, "read_timeout_s": lim.read_timeout_s,
                "body_timeout_s": lim.body_timeout_s, "token_required": self.token is not None}

    def authorize(self, given: Optional[str]) -> None:
        if self.token is None:
            return
        if given is None or not hmac.compare_digest(given.encode(), self.token.encode()):
            raise _Refusal(401, "this server needs a token: send 'Authorization: Bearer TOKEN' "
                                "(the page: open it as /?token=TOKEN)",
                           {"www-authenticate": "Bearer"})

    # ---- one upload

    @contextlib.contextmanager
    def holding(self):
        """Counts the bytes a request holds in memory (see :attr:`Limits.held_bytes_budget`)."""
        held = [0]

        def add(n: int) -> None:
            with self.lock:
                if self.held + n > self.limits.held_bytes_budget:
                    raise _Refusal(503, f"busy: {self.held:,} bytes of uploads are already in "
                                        f"memory; retry later", {"retry-after": self.retry_after()})
                self.held += n
                held[0] += n

        try:
            yield add
        finally:
            with self.lock:
                self.held -= held[0]

    async def read_body(self, request: Request, add: Callable[[int], None]) -> bytes:
        """The request body; 413 past the size limit, 408 if it stalls or is too slow."""
        limit, lim = self.limits.max_upload_bytes, self.limits
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise _Refusal(413, f"the upload ({int(declared):,} bytes) is over the limit of "
                                f"{limit:,} bytes (serve --max-upload-mb)")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + lim.body_timeout_s
        stop = asyncio.ensure_future(self.stopped())
        chunks, size, more = [], 0, True
        try:
            while more:
                left = deadline - loop.time()
                receive = asyncio.ensure_future(request.receive())
                done, _ = await asyncio.wait({receive, stop}, timeout=min(lim.read_timeout_s, left),
                                             return_when=asyncio.FIRST_COMPLETED)
                if receive not in done:
                    receive.cancel()
                    if stop in done:
                        raise _Refusal(503, "the server is shutting down")
                    if left <= lim.read_timeout_s:
                        raise _Refusal(408, f"the upload took longer than {lim.body_timeout_s:g} s "
                                            f"(serve --body-timeout)")
                    raise _Refusal(408, f"the upload stalled: nothing arrived for "
                                        f"{lim.read_timeout_s:g} s (serve --read-timeout)")
                message = receive.result()
                if message["type"] == "http.disconnect":
                    raise _Gone()
                chunk = message.get("body", b"")
                more = message.get("more_body", False)
                size += len(chunk)
                if size > limit:
                    raise _Refusal(413, f"the upload is over the limit of {limit:,} bytes "
                                        f"(serve --max-upload-mb)")
                if chunk:
                    add(len(chunk))
                    chunks.append(chunk)
        finally:
            stop.cancel()
        request.state.body_read = True
        return b"".join(chunks)

    def inspect(self, name: str, data: bytes) -> None:
        """Refuse audio over the limits from its header alone (no decoding)."""
        lim = self.limits
        try:
            frames, rate, channels = audio_info(io.BytesIO(data), name=name)
        except DataError as exc:
            raise _Refusal(422, str(exc)) from exc
        if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
            raise _Refusal(422, f"{name}: its sample rate of {rate:,} Hz is outside the "
                                f"{MIN_SAMPLE_RATE:,}-{MAX_SAMPLE_RATE:,} Hz this server accepts; "
                                f"resample it (16 kHz is what the model uses)")
        if frames >= _UNKNOWN_LENGTH:
            raise _Refusal(413, f"{name}: its header does not say how long the audio is, so it "
                                f"cannot be checked against the limit of {lim.max_duration_s:g} s "
                                f"(serve --max-duration); re-encode it as a regular file")
        seconds = frames / rate
        if seconds > lim.max_duration_s:
            raise _Refusal(413, f"{name}: {seconds:,.1f} s of audio is over the limit of "
                                f"{lim.max_duration_s:g} s (serve --max-duration)")
        if frames * channels > lim.max_samples:
            raise _Refusal(413, f"{name}: {frames:,} frames x {channels} channels is over the limit "
                                f"of {lim.max_samples:,} decoded samples (serve --max-duration "
                                f"x {SAMPLES_PER_LIMIT_SECOND:,}: {lim.max_duration_s:g} s of "
                                f"48 kHz stereo)")

    async def run(self, request: Request, name: str, data: bytes) -> dict:
        """Queue the job, wait for it while watching the client, the clock and shutdown."""
        job = _Job(name, data)
        self.submit(job)
        loop = asyncio.get_running_loop()
        result = asyncio.wrap_future(job.future)
        result.add_done_callback(lambda f: f.cancelled() or f.exception())  # always retrieved
        gone = asyncio.ensure_future(_disconnected(request))
        stop = asyncio.ensure_future(self.stopped())
        deadline = loop.time() + self.limits.score_timeout_s
        drained = math.inf  # when shutting down: the end of the running job's grace period
        pending = {result, gone, stop}
        try:
            while True:
                wait = max(0.0, min(deadline, drained) - loop.time())
                done, _ = await asyncio.wait(pending, timeout=wait,
                                             return_when=asyncio.FIRST_COMPLETED)
                if result in done:
                    break
                if gone in done:
                    self.cancel(job, "the client went away")
                    raise _Gone()
                if stop in done:
                    pending.discard(stop)
                    if not job.started:
                        self.cancel(job, "the server is shutting down")
                        raise _Refusal(503, "the server is shutting down")
                    drained = loop.time() + SHUTDOWN_GRACE_S  # running: it may finish by then
                    continue
                if not done and loop.time() >= drained:  # answered now, not after its batch
                    self.cancel(job, "the server is shutting down")
                    raise _Refusal(503, f"{name}: not scored: the server is shutting down")
                if not done:  # the scoring timeout
                    started = self.cancel(job, "scoring timeout")
                    timeout = self.limits.score_timeout_s
                    if started:
                        raise _Refusal(504, f"{name}: scoring took longer than {timeout:g} s "
                                            f"(serve --score-timeout); send shorter audio")
                    raise _Refusal(503, f"{name}: waited {timeout:g} s for the model without its "
                                        f"turn (serve --score-timeout); retry later",
                                   {"retry-after": self.retry_after()})
        finally:
            gone.cancel()
            stop.cancel()
            if not result.done():
                self.cancel(job, "the request ended")
        try:
            return result.result()
        except (Cancelled, asyncio.CancelledError, FutureCancelled) as exc:
            raise _Refusal(503, f"{name}: not scored: {job.reason or 'cancelled'}") from exc
        except DataError as exc:
            raise _Refusal(422, str(exc)) from exc


async def _disconnected(request: Request) -> None:
    """Returns when the client has gone (the body must have been read already)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


class _InMemoryParts(MultiPartParser):
    """Starlette's multipart parser, keeping the file part in memory: the body is already
    there, bounded by --max-upload-mb, so a temporary file would only add a copy on disk."""

    spool_max_size = 1 << 62


async def _audio_upload(request: Request, body: bytes) -> tuple[str, bytes]:
    """(file name, bytes) of the audio in a raw body or in multipart field ``file``."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        async def chunks():
            yield body

        parser = _InMemoryParts(request.headers, chunks(), max_files=1, max_fields=16)
        try:
            form = await parser.parse()
        except MultiPartException as exc:
            raise _Refusal(400, f"malformed multipart upload: {exc.message}") from exc
        try:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise _Refusal(400, "multipart upload without a file field named 'file'")
            name = check_name(upload.filename or "upload")
            return name, await upload.read()
        finally:
            await form.close()
    return check_name(request.query_params.get("name") or "upload"), body


def create_app(detector: Detector, model_name: str, hop_seconds: float = 0.5,
               max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB, *,
               limits: Optional[Limits] = None, token: Optional[str] = None,
               **limit_values: Any) -> Starlette:
    """The ASGI app serving ``detector`` (``model_name`` is shown by /api/health).

    ``limits`` (or its fields as keywords: ``max_duration_s=``, ``queue=``, ...) bound what
    a client may ask; ``token``: require ``Authorization: Bearer <token>`` on ``/api/``.
    """
    if limits is None:
        limits = Limits(max_upload_mb=max_upload_mb, **limit_values)
    elif limit_values:
        raise ConfigError("pass either limits= or its fields, not both")
    StreamScorer(detector, hop_seconds)  # checks the hop now, not at the first recording
    svc = _Service(detector, model_name, hop_seconds, limits, token)

    async def page(request: Request) -> FileResponse:
        return FileResponse(STATIC / "index.html")

    async def health(request: Request) -> JSONResponse:
        svc.authorize(_bearer(request.headers))
        return JSONResponse(svc.health())

    async def score(request: Request) -> Response:
        request.state.body_read = False
        svc.loop = asyncio.get_running_loop()
        try:
            svc.authorize(_bearer(request.headers))
            if "name" in request.query_params:
                check_name(request.query_params["name"])
            if svc.stopping:
                raise _Refusal(503, "the server is shutting down")
            if svc.waiting >= limits.queue:  # before reading a body that could not be queued
                raise _Refusal(503, f"busy: {svc.waiting} request(s) already wait for the model "
                                    f"(serve --queue {limits.queue}); retry later",
                               {"retry-after": svc.retry_after()})
            with svc.holding() as add:
                body = await svc.read_body(request, add)
                name, data = await _audio_upload(request, body)
                if not data:
                    raise _Refusal(400, "empty request: send an audio file as the body or as "
                                        "multipart field 'file'")
                if data is not body:  # multipart: the file part is a copy
                    del body
                svc.inspect(name, data)
                return JSONResponse(await svc.run(request, name, data))
        except _Refusal as exc:
            return _error(exc.status, exc.message, exc.headers, close=not request.state.body_read)
        except _Gone:
            return _error(400, "the client went away", close=True)

    async def stream(websocket: WebSocket) -> None:
        await websocket.accept()
        svc.loop = asyncio.get_running_loop()
        given = _bearer(websocket.headers) or websocket.query_params.get("token")
        try:
            svc.authorize(given)
        except _Refusal as exc:
            return await _ws_refuse(websocket, exc.message, 1008)
        try:
            rate = int(websocket.query_params.get("rate", "16000"))
            if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
                raise ConfigError(f"{rate:,} Hz is outside the {MIN_SAMPLE_RATE:,}-"
                                  f"{MAX_SAMPLE_RATE:,} Hz this server accepts")
            feed = Feed(rate)
        except (ValueError, ConfigError) as exc:
            return await _ws_refuse(websocket, f"bad rate: {exc}", 1003)
        with svc.lock:
            refusal = ("the server is shutting down" if svc.stopping else
                       f"busy: {svc.streams} live stream(s) already (serve --max-streams "
                       f"{limits.max_streams}); retry later"
                       if svc.streams >= limits.max_streams else None)
            if refusal is None:
                svc.streams += 1
        if refusal is not None:
            return await _ws_refuse(websocket, refusal, 1013)
        svc.feeds.add(feed)
        try:
            await _stream_session(websocket, feed, StreamScorer(detector, hop_seconds), rate,
                                  limits)
        finally:
            svc.feeds.discard(feed)
            with svc.lock:
                svc.streams -= 1

    async def json_http_error(request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    async def json_refusal(request, exc: _Refusal) -> JSONResponse:
        return _error(exc.status, exc.message, exc.headers)

    async def json_unexpected(request, exc: Exception) -> JSONResponse:
        return _error(500, f"internal error: {exc.__class__.__name__}: {exc}")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        svc.reopen()
        try:
            yield
        finally:
            svc.close()

    app = Starlette(routes=[
        Route("/", page), Route("/api/health", health),
        Route("/api/score", score, methods=["POST"]),
        WebSocketRoute("/api/stream", stream),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ], exception_handlers={HTTPException: json_http_error, _Refusal: json_refusal,
                           Exception: json_unexpected},
        lifespan=lifespan)
    app.state.service = svc
    return app


async def _ws_refuse(websocket: WebSocket, message: str, code: int) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
        await websocket.send_json({"error": message})
        await websocket.close(code=code)


async def _stream_session(websocket: WebSocket, feed: Feed, scorer: StreamScorer, rate: int,
                          limits: Limits) -> None:
    """Feed received PCM to the scorer (on its own thread) and send its lines back."""
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue = asyncio.Queue()

    def put(line: Optional[dict]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closing
            loop.call_soon_threadsafe(lines.put_nowait, line)

    def work() -> None:  # the stream's thread: blocks on the feed and the model
        try:
            for line in scorer.run(feed):
                put(line)
            put({"done": True, "skipped": scorer.skipped})
        except AasistError as exc:
            put({"error": str(exc)})
        except MemoryError:
            put({"error": "out of memory while scoring the stream"})
        finally:
            put(None)

    async def send() -> None:
        open_ = True
        while (line := await lines.get()) is not None:
            if open_:
                try:
                    await websocket.send_json(line)
                except (WebSocketDisconnect, RuntimeError, OSError):  # the page went away
                    open_ = False

    worker = threading.Thread(target=work, name="aasist-stream", daemon=True)
    worker.start()
    sender = asyncio.create_task(send())
    decoder = PcmDecoder("f32le", 1)
    frames, max_frames = 0, limits.max_duration_s * rate
    code = 1000  # the close code: 1008 past a limit, 1009 for a message too big
    try:
        while True:
            try:
                message = await asyncio.wait_for(websocket.receive(), limits.read_timeout_s)
            except asyncio.TimeoutError:
                code = 1008
                raise DataError(f"nothing arrived for {limits.read_timeout_s:g} s "
                                f"(serve --read-timeout); the stream is closed") from None
            if message["type"] == "websocket.disconnect" or message.get("text") == "end":
                break
            data = message.get("bytes")
            if not data:
                continue
            if len(data) > MAX_WS_MESSAGE:
                code = 1009
                raise DataError(f"a message of {len(data):,} bytes is over the limit of "
                                f"{MAX_WS_MESSAGE:,} bytes; send smaller chunks")
            frames += len(data) // 4
            if frames > max_frames:
                code = 1008
                raise DataError(f"the stream passed the limit of {limits.max_duration_s:g} s of "
                                f"audio (serve --max-duration); start a new one")
            feed.put(decoder.push(data))
            while feed.queue.qsize() > _FEED_BACKLOG and worker.is_alive():
                await asyncio.sleep(0.01)  # the scorer is behind: stop reading for a while
    except DataError as exc:
        feed.end(exc)
    finally:
        feed.end()
        await sender
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            await websocket.close(code=code)  # the page may have closed it first


# --------------------------------------------------------------------------- the server


def _json_bytes(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


def _guarded_protocol(read_timeout_s: float, max_connections: int) -> type:
    """uvicorn's h11 protocol with a deadline for request headers, a deadline for the rest
    of a body after an early answer, a JSON 400, and a JSON 503 past ``max_connections``.

    It relies on uvicorn 0.55's H11Protocol internals (``conn``, ``transport``, ``loop``,
    ``app``, ``connections``, ``on_response_complete``, ``send_400_response``); the tests
    of a real server process check that it still works."""
    from uvicorn.protocols.http import h11_impl
    from uvicorn.protocols.http.h11_impl import H11Protocol

    h11 = h11_impl.h11  # uvicorn's own (h11 comes with uvicorn; it is not ours to require)

    too_many = _json_bytes(f"too many connections (serve --max-connections "
                           f"{max_connections}); retry later")

    async def busy(scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 503,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(too_many)).encode()),
                                (b"retry-after", b"1"), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": too_many})

    class GuardedH11Protocol(H11Protocol):
        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            sock = transport.get_extra_info("socket")
            with contextlib.suppress(OSError, AttributeError):
                # asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP, and the
                # listening socket's is 0: without it, a response written in two parts waits
                # ~40 ms for the client's delayed ACK on every reused connection
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._deadline: Optional[asyncio.TimerHandle] = None
            self._phase, self._got_bytes = "headers", False
            if len(self.connections) > max_connections:
                self.app = busy  # this connection's requests get the JSON 503
            self._arm("headers")

        def _arm(self, phase: str) -> None:
            self._disarm()
            self._phase = phase
            self._deadline = self.loop.call_later(read_timeout_s, self._expired)

        def _disarm(self) -> None:
            if getattr(self, "_deadline", None) is not None:
                self._deadline.cancel()
                self._deadline = None

        def data_received(self, data: bytes) -> None:
            self._got_bytes = True
            super().data_received(data)

        def handle_events(self) -> None:
            super().handle_events()
            if self._deadline is None:
                return
            if self._phase == "headers" and self.conn.their_state is not h11.IDLE:
                self._disarm()  # the request has arrived; the app times its body
            elif self._phase == "drain" and self.conn.their_state is h11.IDLE:
                self._got_bytes = False
                self._arm("headers")  # the refused body is over: the next request may come

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self.transport.is_closing():
                return
            if self.cycle is not None and not self.cycle.response_complete:
                return  # a pipelined request is already being served
            if self.conn.their_state is h11.IDLE:
                self._got_bytes = False
                self._arm("headers")
            elif self.conn.their_state is h11.SEND_BODY:
                self._arm("drain")  # answered early: the client may finish sending, not more

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _expired(self) -> None:
            self._deadline = None
            if self.transport.is_closing() or self.transport.get_protocol() is not self:
                return
            if self._phase == "headers" and self.conn.their_state is h11.IDLE:
                if self._got_bytes:
                    body = _json_bytes(f"the request headers did not arrive within "
                                       f"{read_timeout_s:g} s (serve --read-timeout)")
                    self.transport.write(b"HTTP/1.1 408 Request Timeout\r\ncontent-type: "
                                         b"application/json\r\ncontent-length: %d\r\n"
                                         b"connection: close\r\n\r\n%s" % (len(body), body))
                self.transport.close()
            elif self._phase == "drain" and self.conn.their_state is h11.SEND_BODY:
                self.transport.close()

        def send_400_response(self, msg: str) -> None:
            body = _json_bytes(f"invalid HTTP request ({msg.rstrip('.')}): malformed, or "
                               f"headers over 16 KiB")
            try:
                output = self.conn.send(h11.Response(
                    status_code=400, reason=b"Bad Request",
                    headers=[(b"content-type", b"application/json"), (b"connection", b"close"),
                             (b"content-length", str(len(body)).encode())]))
                self.transport.write(output + self.conn.send(h11.Data(data=body))
                                     + self.conn.send(h11.EndOfMessage()))
            except h11.LocalProtocolError:
                pass
            self.transport.close()

    return GuardedH11Protocol


class _Server(uvicorn.Server):
    """uvicorn's server, telling the app the moment a shutdown signal arrives."""

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]):
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig, frame) -> None:
        self._on_exit()
        super().handle_exit(sig, frame)


class _Terminated(Exception):
    pass


def _raise_terminated(sig, frame) -> None:
    raise _Terminated()


def run_server(app, host: str = "127.0.0.1", port: int = 8000,
               on_ready: Optional[Callable[[str], None]] = None, *,
               read_timeout_s: Optional[float] = None,
               max_connections: int = DEFAULT_MAX_CONNECTIONS) -> None:
    """Serve ``app`` until interrupted (Ctrl-C: KeyboardInterrupt; SIGTERM: returns). The
    socket is bound first (port 0: any free port), then ``on_ready`` gets the URL, so a
    caller never races for the port. A host beyond loopback needs an app with a token."""
    svc: Optional[_Service] = getattr(app.state, "service", None)
    check_exposure(host, svc.token if svc is not None else None)
    if not (isinstance(max_connections, int) and max_connections >= 1):
        raise ConfigError(f"--max-connections must be a whole number >= 1, got {max_connections!r}")
    if read_timeout_s is None:
        read_timeout_s = svc.limits.read_timeout_s if svc is not None else DEFAULT_READ_TIMEOUT_S
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose "
                          f"another --port or --host") from exc
    if on_ready is not None:
        bound = sock.getsockname()[1]
        on_ready(f"http://{'[' + host + ']' if family == socket.AF_INET6 else host}:{bound}")
    config = uvicorn.Config(app, log_level="warning", lifespan="on",
                            http=_guarded_protocol(read_timeout_s, max_connections),
                            ws_max_size=4 * MAX_WS_MESSAGE, timeout_keep_alive=5,
                            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
    server = _Server(config, svc.request_stop if svc is not None else (lambda: None))
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if main else None
    try:
        server.run(sockets=[sock])
    except _Terminated:  # uvicorn re-raises the SIGTERM it handled, once it has shut down
        pass
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
        sock.close()


__all__ = ["DEFAULT_MAX_UPLOAD_MB", "GRACEFUL_SHUTDOWN_S", "Limits", "MAX_SAMPLE_RATE",
           "MIN_SAMPLE_RATE", "STATIC", "TOKEN_ENV", "check_exposure", "check_name",
           "create_app", "is_loopback", "run_server"]
