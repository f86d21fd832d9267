"""Live scoring of a PCM stream: a window buffer, a hop, latency, and skipping when behind.

Command line (``aasist stream``) and API::

    from aasist import Detector
    from aasist.stream import StreamScorer, paced, pcm_feed

    scorer = StreamScorer(Detector(), hop_seconds=0.5)
    for line in scorer.run(pcm_feed(sys.stdin.buffer, "s16le", 16000, 1)):
        print(line)   # {"start_s", "end_s", "score", "p_bonafide", "label", "latency_ms"}

Windows
    Every ``hop`` samples (counted from the start of the stream) the scorer scores the last
    ``nb_samp`` samples (64,600 = 4.04 s for the official models). While less than that
    has arrived, the window is what has arrived, repeat-padded like the official evaluation
    pads short clips; the first window is the first hop at or after the model's minimum
    input (0.145 s). When the input ends, the window ending at its last sample is scored
    too (unless it was just scored), so a clip of exactly ``nb_samp`` samples at 16 kHz ends
    with exactly the score the official evaluation gives it.

Latency and skipping
    ``latency_ms`` runs from the arrival of a window's last sample to the moment its score
    is ready (reading, resampling, any wait for earlier windows, and the forward pass).
    Each time the scorer is free it takes everything that has arrived and, if several hops
    are due, scores only the newest window and counts the older ones in ``skipped``: a
    stream that arrives faster than the model scores it (a file piped at full speed, a slow
    machine) is thinned out instead of falling further and further behind.

Sources
    A source is an iterable of lists of ``(samples, arrived)`` pieces: 16 kHz mono float32
    samples and the clock time their last sample arrived; each list holds everything that
    arrived since the previous one. :func:`pcm_feed` reads raw PCM (``s16le`` / ``f32le``,
    any rate and channel count) from a binary stream on a background thread;
    :func:`paced` replays audio that is already in memory at real-time pace (``--input
    FILE``); :func:`microphone` records through the optional ``sounddevice`` package.
    Input at other rates is resampled as it arrives with the same polyphase filter
    :func:`aasist.data.audio.resample_to_16k` applies to whole files.

Time comes from a :class:`Clock` (``now()``, ``sleep()``), so tests drive the scorer with
a simulated clock and a model whose forward pass takes simulated time.
"""
from __future__ import annotations

import math
import os
import queue
import threading
import time
from collections import deque
from contextlib import contextmanager
from typing import IO, Iterable, Iterator, Optional, Protocol

import numpy as np
from scipy.signal import firwin, resample_poly

from .data.audio import (INT16_SCALE, SAMPLE_RATE, read_audio, repeat_pad, resample_factors,
                         resample_to_16k)
from .errors import ConfigError, DataError
from .inference import AUDIO_EXTENSIONS, hop_samples
from .predict import Detector

#: Raw PCM sample formats: little-endian 16-bit integers or 32-bit floats.
PCM_FORMATS = {"s16le": np.dtype("<i2"), "f32le": np.dtype("<f4")}

Piece = tuple[np.ndarray, float]  # 16 kHz mono float32 samples, arrival time of the last one


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall-clock time (``time.monotonic``)."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


# --------------------------------------------------------------------------- input


class StreamResampler:
    """Resample a stream chunk by chunk to 16 kHz; the output, concatenated, equals (up to
    float rounding) ``resample_to_16k`` of the whole signal.

    Each output sample needs input up to ``reach`` samples ahead of it (the filter's half
    length), so :meth:`push` returns the samples that are complete so far and
    :meth:`flush` the rest at the end (zero-padded, as ``resample_poly`` pads a file).
    """

    def __init__(self, sample_rate: int):
        if not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
            raise ConfigError(f"the input rate must be a positive number of Hz, got {sample_rate!r}")
        self.up, self.down = resample_factors(sample_rate)
        self.identity = self.up == self.down
        if not self.identity:  # resample_poly's default filter, designed once
            half_len = 10 * max(self.up, self.down)
            self.filter = firwin(2 * half_len + 1, 1.0 / max(self.up, self.down),
                                 window=("kaiser", 5.0))
            self.reach = math.ceil(half_len / self.up) + 1  # input the filter spans each side
        self.buf = np.zeros(0, np.float64)  # input from sample `start` on (a multiple of `down`)
        self.start = 0
        self.n_in = 0
        self.n_out = 0

    def push(self, x: np.ndarray) -> np.ndarray:
        """Mono float32 input at the input rate -> the 16 kHz samples now complete."""
        if self.identity:
            return np.asarray(x, np.float32)
        self.buf = np.concatenate([self.buf, x.astype(np.float64)])
        self.n_in += x.shape[0]
        complete = (self.n_in - 1 - self.reach) * self.up // self.down + 1
        return self._emit(complete)

    def flush(self) -> np.ndarray:
        """The remaining 16 kHz samples, once the input has ended."""
        if self.identity:
            return np.zeros(0, np.float32)
        return self._emit(-(-self.n_in * self.up // self.down))  # resample_poly's length

    def _emit(self, end: int) -> np.ndarray:
        if end <= self.n_out:
            return np.zeros(0, np.float32)
        y = resample_poly(self.buf, self.up, self.down, window=self.filter)
        first = self.start * self.up // self.down  # output index of y[0]
        out = y[self.n_out - first:end - first].astype(np.float32)
        self.n_out = end
        # keep the input the next output samples reach back to, from a multiple of `down`
        keep = max(self.start, (self.n_out * self.down // self.up - self.reach - 1)
                   // self.down * self.down)
        self.buf, self.start = self.buf[keep - self.start:], keep
        return out


class PcmDecoder:
    """Raw interleaved PCM bytes -> mono float32 frames (channels averaged).

    16-bit samples become exactly ``int16 / 32768``, as libsndfile and the official
    evaluation read them. Bytes of an incomplete frame wait for the next chunk.
    """

    def __init__(self, fmt: str, channels: int):
        if fmt not in PCM_FORMATS:
            raise ConfigError(f"unknown PCM format {fmt!r}; choose one of {', '.join(PCM_FORMATS)}")
        if not isinstance(channels, int) or channels < 1:
            raise ConfigError(f"channels must be a whole number >= 1, got {channels!r}")
        self.fmt, self.dtype, self.channels = fmt, PCM_FORMATS[fmt], channels
        self.frame_bytes = self.dtype.itemsize * channels
        self.rest = b""

    def push(self, data: bytes) -> np.ndarray:
        data = self.rest + data
        usable = len(data) - len(data) % self.frame_bytes
        self.rest = data[usable:]
        raw = np.frombuffer(data[:usable], dtype=self.dtype).reshape(-1, self.channels)
        if self.fmt == "s16le":
            x = np.multiply(raw, np.float32(1.0 / INT16_SCALE), dtype=np.float32)
        else:
            x = raw.astype(np.float32)
            if not np.isfinite(x).all():
                raise DataError("the f32le input holds NaN or infinite samples; is it really "
                                "32-bit float PCM? (--format s16le for 16-bit integers)")
        return x[:, 0].copy() if self.channels == 1 else x.mean(axis=1, dtype=np.float32)


_END = object()


class Feed:
    """Hands mono audio from a reader thread or an audio callback to the scorer.

    :meth:`put` stamps each chunk with its arrival time; iterating yields, each time, every
    chunk that arrived since the last time (blocking until one has), resampled to 16 kHz.
    ``maxsize`` bounds the chunks waiting (0: unbounded, for audio callbacks that must not
    block; a reader of a pipe then waits, which slows the writer instead of filling memory).
    """

    def __init__(self, sample_rate: int, clock: Optional[Clock] = None, maxsize: int = 0):
        self.resampler = StreamResampler(sample_rate)
        self.clock = clock or SystemClock()
        self.queue: queue.Queue = queue.Queue(maxsize=maxsize)

    def put(self, frames: np.ndarray) -> None:
        self.queue.put((frames, self.clock.now()))

    def end(self, error: Optional[BaseException] = None) -> None:
        """No more input; ``error`` (raised to the consumer) if reading failed."""
        self.queue.put(_END if error is None else error)

    def __iter__(self) -> Iterator[list[Piece]]:
        while True:
            items = [self.queue.get()]
            while True:
                try:
                    items.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            pieces: list[Piece] = []
            for item in items:
                if isinstance(item, BaseException):
                    raise item
                if item is _END:
                    pieces.append((self.resampler.flush(), self.clock.now()))
                    yield [p for p in pieces if p[0].shape[0]]
                    return
                frames, arrived = item
                pieces.append((self.resampler.push(frames), arrived))
            pieces = [p for p in pieces if p[0].shape[0]]
            if pieces:
                yield pieces


def pcm_feed(stream: IO[bytes], fmt: str = "s16le", sample_rate: int = SAMPLE_RATE,
             channels: int = 1, clock: Optional[Clock] = None, block: int = 1 << 14) -> Feed:
    """Read raw PCM from a binary stream (stdin, a pipe) on a daemon thread into a Feed.

    Each read returns what is available (up to ``block`` bytes), so samples are stamped when
    they arrive. A partial frame at the very end of the input is dropped.
    """
    decoder = PcmDecoder(fmt, channels)
    feed = Feed(sample_rate, clock, maxsize=64)
    read = getattr(stream, "read1", stream.read)

    def reader() -> None:
        try:
            while data := read(block):
                frames = decoder.push(data)
                if frames.shape[0]:
                    feed.put(frames)
        except BaseException as exc:  # handed to the consumer, which raises it
            feed.end(exc)
        else:
            feed.end()

    threading.Thread(target=reader, name="aasist-stream-reader", daemon=True).start()
    return feed


def paced(x16: np.ndarray, clock: Optional[Clock] = None,
          chunk: int = SAMPLE_RATE // 50) -> Iterator[list[Piece]]:
    """Replay 16 kHz audio as if it were arriving live, in chunks of ``chunk`` samples.

    Sample ``i`` arrives ``(i + 1) / 16000`` s after the first read; a consumer that is busy
    for a while gets every chunk that arrived meanwhile at its next read.
    """
    clock = clock or SystemClock()
    x16 = np.asarray(x16, np.float32)
    n, sent, t0 = x16.shape[0], 0, clock.now()
    while sent < n:
        due = t0 + min(n, sent + chunk) / SAMPLE_RATE  # when the next chunk is complete
        if clock.now() < due:
            clock.sleep(due - clock.now())
        arrived = int((clock.now() - t0) * SAMPLE_RATE) // chunk * chunk
        ready = min(n, max(sent + chunk, arrived))  # at least the chunk waited for
        yield [(x16[a:min(a + chunk, ready)], t0 + min(a + chunk, ready) / SAMPLE_RATE)
               for a in range(sent, ready, chunk)]
        sent = ready


def file_source(path: str, fmt: str = "s16le", sample_rate: int = SAMPLE_RATE,
                channels: int = 1, clock: Optional[Clock] = None) -> Iterator[list[Piece]]:
    """A file replayed at real-time pace: an audio file (an extension in
    ``AUDIO_EXTENSIONS``, header read by libsndfile) or else raw PCM in ``fmt``."""
    if os.path.splitext(path)[1].lower() in AUDIO_EXTENSIONS:
        x, sample_rate = read_audio(path)
    else:
        decoder = PcmDecoder(fmt, channels)
        try:
            with open(path, "rb") as fh:
                x = decoder.push(fh.read())
        except FileNotFoundError as exc:
            raise DataError(f"input file not found: {path}") from exc
        StreamResampler(sample_rate)  # validates the rate
    return paced(resample_to_16k(x, sample_rate), clock)


@contextmanager
def microphone(sample_rate: int = SAMPLE_RATE, channels: int = 1,
               clock: Optional[Clock] = None) -> Iterator[Feed]:
    """Record from the default input device into a Feed while the block runs."""
    try:
        import sounddevice  # optional dependency
    except (ImportError, OSError) as exc:  # OSError: the PortAudio library is missing
        raise ConfigError("--mic needs the sounddevice package and the PortAudio library: "
                          "pip install sounddevice (on Debian/Ubuntu also apt-get install "
                          f"libportaudio2) ({exc})") from exc
    feed = Feed(sample_rate, clock)

    def callback(indata, frames, time_info, status) -> None:
        feed.put(indata.mean(axis=1, dtype=np.float32) if channels > 1 else indata[:, 0].copy())

    try:
        stream = sounddevice.InputStream(samplerate=sample_rate, channels=channels,
                                         dtype="float32", callback=callback)
    except Exception as exc:  # sounddevice.PortAudioError, ValueError: no usable device
        raise DataError(f"cannot record from the default microphone at {sample_rate} Hz, "
                        f"{channels} channel(s): {exc}") from exc
    with stream:
        yield feed


# --------------------------------------------------------------------------- scoring


class StreamScorer:
    """Score the last ``nb_samp`` samples of a live 16 kHz signal every ``hop`` samples.

    Feed it with :meth:`push` and ask for due windows with :meth:`step` (newest only, older
    due windows are skipped), then :meth:`finish` at the end of input; or let :meth:`run`
    do all three over a source. ``skipped`` counts windows skipped so far, ``busy_s`` the
    time spent in the model.
    """

    def __init__(self, detector: Detector, hop_seconds: float = 0.5,
                 clock: Optional[Clock] = None):
        self.detector = detector
        self.nb = detector.nb_samp
        self.hop = hop_samples(hop_seconds, self.nb)
        self.clock = clock or SystemClock()
        self.next_end = max(1, math.ceil(detector.engine.min_samples / self.hop)) * self.hop
        self.buf = np.zeros(0, np.float32)  # the latest samples, ending at sample `total`
        self.total = 0
        self.last_end = 0  # end of the last window scored
        self.arrivals: deque[tuple[int, float]] = deque()  # (end sample of a piece, arrival)
        self.skipped = 0
        self.scored = 0
        self.busy_s = 0.0

    def push(self, samples: np.ndarray, arrived: float) -> None:
        """Append 16 kHz mono float32 samples whose last one arrived at ``arrived``."""
        if samples.shape[0] == 0:
            return
        self.total += samples.shape[0]
        self.arrivals.append((self.total, arrived))
        keep = self.nb + self.hop  # enough for the newest due window (or all of a short start)
        self.buf = np.concatenate([self.buf, samples.astype(np.float32, copy=False)])[-keep:]

    def step(self) -> Optional[dict]:
        """Score the newest window due, skipping older due ones; None when none is due."""
        if self.next_end > self.total:
            return None
        due = (self.total - self.next_end) // self.hop + 1
        end = self.next_end + (due - 1) * self.hop
        self.skipped += due - 1
        self.next_end = end + self.hop
        return self._score(end)

    def finish(self) -> Optional[dict]:
        """At the end of input: the window ending at the last sample, if not yet scored."""
        if self.total == 0 or self.last_end == self.total:
            return None
        return self._score(self.total)

    def run(self, source: Iterable[list[Piece]]) -> Iterator[dict]:
        """Score a whole source: a line per hop as input arrives, then the final window."""
        for pieces in source:
            for samples, arrived in pieces:
                self.push(samples, arrived)
            line = self.step()
            if line is not None:
                yield line
        line = self.finish()
        if line is not None:
            yield line

    def _window(self, end: int) -> np.ndarray:
        """(nb_samp,) samples ending at sample ``end`` (repeat-padded at the start)."""
        stop = self.buf.shape[0] - (self.total - end)
        if end < self.nb:
            return repeat_pad(self.buf[stop - end:stop], self.nb)
        return self.buf[stop - self.nb:stop]

    def _arrival(self, end: int) -> float:
        while self.arrivals[0][0] < end:  # pieces wholly before this window's end
            self.arrivals.popleft()
        return self.arrivals[0][1]

    def _score(self, end: int) -> dict:
        window = self._window(end)
        started = self.clock.now()
        l0, l1 = (float(v) for v in self.detector.logits(window[None])[0])
        line = self.detector.verdict(l0, l1)
        vad = getattr(self.detector, "vad", None)
        if vad is not None:  # judged on speech only: the arrived samples, not the padding
            stop = self.buf.shape[0] - (self.total - end)
            line["speech"] = vad.has_speech(self.buf[stop - min(end, self.nb):stop])
            if not line["speech"]:
                line.update(llr=None, p_spoof=None, label="no_speech")
        done = self.clock.now()
        if not (math.isfinite(l0) and math.isfinite(l1)):
            raise DataError(f"the model produced a non-finite score for the window ending at "
                            f"{end / SAMPLE_RATE:.3f} s")
        self.busy_s += done - started
        self.scored += 1
        self.last_end = end
        out = {"start_s": max(0, end - self.nb) / SAMPLE_RATE, "end_s": end / SAMPLE_RATE,
               **line, "latency_ms": 1000.0 * (done - self._arrival(end))}
        if getattr(self.detector, "model_name", None) is not None:
            out["model"] = self.detector.model_name
        if hasattr(self.detector, "calibration_name"):
            out["calibration"] = self.detector.calibration_name
        return out


__all__ = ["PCM_FORMATS", "Clock", "Feed", "PcmDecoder", "StreamResampler", "StreamScorer",
           "SystemClock", "file_source", "microphone", "paced", "pcm_feed"]
