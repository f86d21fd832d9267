"""HTTP and WebSocket front of a :class:`~aasist.predict.Detector`, on Starlette + uvicorn.

Routes::

    GET  /             the page (static/index.html): drop or pick a file, or record
    POST /api/score    an audio file as the raw body or as multipart field "file"
                       -> predict's JSON for it, with "timeline"
    GET  /api/health   {"status": "ok", "model": ..., ...}
    WS   /api/stream   ?rate=R: binary messages of float32 mono PCM at R Hz, then the text
                       "end" -> one JSON message per window (stream's lines), then
                       {"done": true, "skipped": N}

Scoring is the library's (Detector.score, StreamScorer); this module only moves bytes.
Model calls run on worker threads and the Detector runs one forward pass at a time, so
concurrent requests queue instead of competing for the cores. Errors are JSON
``{"error": "..."}``: 400 (no audio in the request), 413 (over the size limit), 422
(not audio the model can score); the server keeps serving.
"""
from __future__ import annotations

import asyncio
import os
import socket
import tempfile
from pathlib import Path
from typing import Callable, Optional

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..errors import AasistError, ConfigError, DataError
from ..predict import Detector
from ..stream import Feed, PcmDecoder, StreamScorer

STATIC = Path(__file__).resolve().parent / "static"
DEFAULT_MAX_UPLOAD_MB = 100


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"the upload ({int(declared):,} bytes) is over the limit of "
                                 f"{limit:,} bytes (serve --max-upload-mb)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"the upload is over the limit of {limit:,} bytes "
                                     f"(serve --max-upload-mb)")
        chunks.append(chunk)
    return b"".join(chunks)


async def _audio_upload(request: Request, body: bytes) -> tuple[str, bytes]:
    """(file name, bytes) of the audio in a raw body or in multipart field ``file``."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        async def replay() -> dict:  # the form parser reads the body we already hold
            return {"type": "http.request", "body": body, "more_body": False}

        async with Request(request.scope, replay).form(max_files=1) as form:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise HTTPException(400, "multipart upload without a file field named 'file'")
            return upload.filename or "upload", await upload.read()
    return request.query_params.get("name", "upload"), body


def _score_bytes(detector: Detector, name: str, data: bytes) -> dict:
    """Score uploaded bytes: libsndfile reads a file, so they go through a temporary one."""
    if not data:
        raise HTTPException(400, "empty request: send an audio file as the body or as "
                                 "multipart field 'file'")
    with tempfile.TemporaryDirectory(prefix="aasist-serve-") as tmp:
        path = os.path.join(tmp, "upload" + os.path.splitext(name)[1][:16])
        with open(path, "wb") as fh:
            fh.write(data)
        try:
            result = detector.score(path, timeline=True)
        except DataError as exc:
            raise HTTPException(422, str(exc).replace(path, name)) from exc
    return {**result, "path": name}


async def _json_error(request, exc: HTTPException) -> JSONResponse:
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code)


def create_app(detector: Detector, model_name: str, hop_seconds: float = 0.5,
               max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB) -> Starlette:
    """The ASGI app serving ``detector`` (``model_name`` is shown by /api/health)."""
    if not max_upload_mb > 0:
        raise ConfigError(f"--max-upload-mb must be positive, got {max_upload_mb!r}")
    limit = int(max_upload_mb * 1_000_000)
    StreamScorer(detector, hop_seconds)  # checks the hop now, not at the first recording

    async def page(request: Request) -> FileResponse:
        return FileResponse(STATIC / "index.html")

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "model": model_name, "device": str(detector.device),
                             "nb_samp": detector.nb_samp, "threshold": detector.threshold,
                             "hop_s": hop_seconds, "max_upload_bytes": limit})

    async def score(request: Request) -> JSONResponse:
        name, data = await _audio_upload(request, await _read_body(request, limit))
        return JSONResponse(await run_in_threadpool(_score_bytes, detector, name, data))

    async def stream(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            feed = Feed(int(websocket.query_params.get("rate", "16000")))
        except (ValueError, ConfigError) as exc:
            await websocket.send_json({"error": f"bad rate: {exc}"})
            await websocket.close(code=1003)
            return
        await _stream_session(websocket, feed, StreamScorer(detector, hop_seconds))

    return Starlette(routes=[
        Route("/", page), Route("/api/health", health),
        Route("/api/score", score, methods=["POST"]),
        WebSocketRoute("/api/stream", stream),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ], exception_handlers={HTTPException: _json_error})


async def _stream_session(websocket: WebSocket, feed: Feed, scorer: StreamScorer) -> None:
    """Feed received PCM to the scorer (on a worker thread) and send its lines back."""
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue = asyncio.Queue()

    def work() -> None:  # worker thread: blocks on the feed and the model
        try:
            for line in scorer.run(feed):
                loop.call_soon_threadsafe(lines.put_nowait, line)
            loop.call_soon_threadsafe(lines.put_nowait, {"done": True, "skipped": scorer.skipped})
        except AasistError as exc:
            loop.call_soon_threadsafe(lines.put_nowait, {"error": str(exc)})
        finally:
            loop.call_soon_threadsafe(lines.put_nowait, None)

    async def send() -> None:
        open_ = True
        while (line := await lines.get()) is not None:
            if open_:
                try:
                    await websocket.send_json(line)
                except (WebSocketDisconnect, RuntimeError, OSError):  # the page went away
                    open_ = False

    worker = loop.run_in_executor(None, work)
    sender = asyncio.create_task(send())
    decoder = PcmDecoder("f32le", 1)
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect" or message.get("text") == "end":
                break
            if message.get("bytes"):
                feed.put(decoder.push(message["bytes"]))
    except DataError as exc:
        feed.end(exc)
    finally:
        feed.end()
        await worker
        await sender
        try:
            await websocket.close()
        except (WebSocketDisconnect, RuntimeError, OSError):  # the page closed it first
            pass


def run_server(app, host: str = "127.0.0.1", port: int = 8000,
               on_ready: Optional[Callable[[str], None]] = None) -> None:
    """Serve ``app`` until interrupted. The socket is bound first (port 0: any free port),
    then ``on_ready`` gets the URL, so a caller never races for the port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose "
                          f"another --port or --host") from exc
    if on_ready is not None:
        bound = sock.getsockname()[1]
        on_ready(f"http://{'[' + host + ']' if family == socket.AF_INET6 else host}:{bound}")
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])


__all__ = ["DEFAULT_MAX_UPLOAD_MB", "STATIC", "create_app", "run_server"]
