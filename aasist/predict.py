"""Score arbitrary audio with a trained AASIST / AASIST-L: files, folders, arrays, long audio.

Command line (``python -m aasist predict``) and notebook API::

    from aasist.predict import Detector, predict_paths
    det = Detector()                             # the bundled official AASIST-L
    det = Detector("config/AASIST-L.conf", "runs/x/weights/swa.pth")   # or your own
    det.score("clip.flac")                       # -> {"score": ..., "p_bonafide": ..., "label": ...}
    det.score(samples, sample_rate=44100, timeline=True)
    for result in predict_paths(det, ["folder/", "x.wav"]):
        ...

Input
    Anything libsndfile reads (WAV, FLAC, OGG/Vorbis, Opus, MP3, AIFF, ...), any sample rate
    (resampled to 16 kHz with ``scipy.signal.resample_poly``, a Kaiser-windowed FIR), any
    channel count (channels averaged to mono), any length. Folders are searched recursively
    for files whose extension is in :data:`AUDIO_EXTENSIONS`; a file named explicitly is
    always tried, whatever its extension.

Windows
    The model sees ``nb_samp`` samples at a time (64600 = 4.04 s in the official configs).

    * A clip of at most ``nb_samp`` samples is scored exactly as the official evaluation scores
      it: repeat-padded to ``nb_samp`` (tile, then cut: the official ``pad``). A 16 kHz file
      therefore gets the number the official score file holds for it (up to float32 rounding
      in the forward pass, ~1e-6, see "Bits" below). Clips shorter than the
      architecture's minimum (0.145 s) are fine: padding makes them ``nb_samp`` long.
    * Longer audio is cut into windows of ``nb_samp`` samples every ``hop`` samples, the last
      window aligned to the end of the audio so every sample is seen. Default hop:
      ``nb_samp / 2`` (2.02 s): any stretch of up to half a window lies wholly inside some
      window, at twice the cost of non-overlapping windows.

Aggregation (``aggregate=``, default ``"min"``)
    ``"min"``: the file gets the logits of its *least bona fide* window (smallest decision
    statistic, see Threshold). So the file is labelled ``spoof`` exactly when some window
    is, which is what spotting a synthetic passage spliced into a long genuine recording
    needs: averaging would dilute a 3 s fake inside a 10 min call until it disappeared.
    The price: the more windows, the more chances for a false alarm on long genuine audio,
    so the file-level false-alarm rate of long files is higher than the per-clip rate of a
    threshold chosen on 4 s clips. Each window is scored exactly like an official 4 s
    trial, so a threshold keeps its meaning per window. ``"mean"``: the mean of the
    window logits (both columns) -- robust on long genuine audio, blind to short fakes.
    With ``timeline=True`` every window's start, end and score is returned as well.

Output (one dict per input)
    ``path``, ``score`` (the bona fide logit, column 1 of the model output: the number the
    official score files hold; higher = more bona fide), ``p_bonafide`` (softmax of the two
    logits, column 1 = ``sigmoid(logit1 - logit0)``), ``label`` (``bonafide`` / ``spoof``),
    ``duration_s`` and ``sample_rate`` (of the original audio), ``windows`` (how many were
    scored), and with ``timeline=True`` ``timeline``: a list of ``{start_s, end_s, score,
    p_bonafide}`` (seconds in the audio; a padded clip's window ends where the audio ends).
    A file that could not be scored gives ``{"path": ..., "error": "<one line>"}`` and the
    batch goes on. JSON output is JSON Lines (one object per line); CSV has a header row and
    the columns ``path, score, p_bonafide, label, duration_s, sample_rate, windows, error``
    (+ ``timeline`` as a JSON string when requested).

Threshold
    ``score`` alone is not a log-odds: the column-1 logit has an arbitrary offset (for one
    reference input the official AASIST-L gives column 1 = -3.6 next to column 0 = +4.0), so
    "score >= 0" has no principled meaning. What *is* meaningful is the logit difference:
    the official training weights the cross-entropy [0.1 spoof, 0.9 bona fide], which
    cancels the 1:9 bona fide:spoof ratio of the training set, so ``p_bonafide =
    sigmoid(logit1 - logit0)`` estimates the posterior under equal priors.

    * Default (``threshold=None``): the classifier's own decision, ``bonafide`` when
      ``p_bonafide >= 0.5`` (i.e. ``logit1 >= logit0``); no calibration data needed.
    * ``threshold=T`` (``--threshold T``): ``bonafide`` when ``score >= T``, a threshold on
      the official score. Choose it on data like yours; for ASVspoof-like data use the EER
      threshold of the dev split: ``python -m aasist evaluate --config CONF --weights PTH
      --split dev`` writes ``eer_threshold`` to ``metrics.json``. Lower T accepts more
      (fewer false rejections of genuine speech, more missed spoofs).

Throughput
    :func:`predict_paths` decodes and resamples the next files on a background thread
    while the model runs, cuts the windows of consecutive files into batches, and runs them
    under ``torch.inference_mode`` on ``workers`` model threads. On CPU the default is one
    single-threaded model per torch thread with batches of one window: batching gains
    nothing on CPU (AASIST-L costs ~0.17 CPU-s per 4 s window at any batch size), and
    independent single-threaded workers keep going on a busy machine, where one
    multi-threaded forward stalls in OpenMP barriers whenever another process holds a core.
    On CUDA: one worker, batches of 32. :func:`benchmark_predict` measures files/s and the
    real-time factor on generated files.

    Bits: float32 results depend slightly (~1e-6) on the batch size and thread count of the
    forward pass. :meth:`Detector.score` runs in the calling thread, so for a clip of at
    most ``nb_samp`` samples it returns exactly ``model(repeat_pad(x)[None])[0, 1]``.
"""
from __future__ import annotations

import csv
import json
import math
import os
import queue
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Iterable, Iterator, Mapping, Optional, Sequence, Union

import numpy as np

from .data.audio import SAMPLE_RATE, read_audio, repeat_pad, resample_to_16k
from .errors import AasistError, ConfigError, DataError

PathLike = Union[str, "os.PathLike[str]"]

#: Extensions (lower case) picked up when a folder is searched; explicit files are always tried.
AUDIO_EXTENSIONS = frozenset({
    ".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc",
    ".au", ".snd", ".caf", ".w64", ".rf64", ".sph", ".nist",
})

AGGREGATIONS = ("min", "mean")
FORMATS = ("json", "csv")
CSV_FIELDS = ("path", "score", "p_bonafide", "label", "duration_s", "sample_rate", "windows",
              "error")

# --------------------------------------------------------------------------- helpers


def _one_line(exc: BaseException) -> str:
    """An exception as one line; unexpected exception types keep their class name."""
    text = " ".join(str(exc).split()) or exc.__class__.__name__
    if not isinstance(exc, (AasistError, ValueError, OSError)):
        text = f"{exc.__class__.__name__}: {text}"
    return text


def _p_bonafide(logit0: float, logit1: float) -> float:
    """softmax([logit0, logit1])[1] = sigmoid(logit1 - logit0), without overflow."""
    d = float(logit1) - float(logit0)
    if d >= 0:
        return 1.0 / (1.0 + math.exp(-d))
    e = math.exp(d)
    return e / (1.0 + e)


def _to_mono_float32(audio: Any) -> np.ndarray:
    """A 1-D or 2-D (channels on the shorter axis) array/tensor -> float32 mono (n,)."""
    try:
        import torch

        if isinstance(audio, torch.Tensor):
            audio = audio.detach().cpu().numpy()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    x = np.asarray(audio)
    if x.dtype.kind in "iu":  # integer PCM: scale as libsndfile does
        info = np.iinfo(x.dtype)
        offset = 0.0 if x.dtype.kind == "i" else (info.max + 1) / 2.0
        x = (x.astype(np.float64) - offset) / float(-info.min if x.dtype.kind == "i" else offset)
    elif x.dtype.kind != "f":
        raise DataError(f"audio must be a numeric array, got dtype {x.dtype}")
    if x.ndim == 2:
        axis = 0 if x.shape[0] < x.shape[1] else 1  # channels: the shorter axis
        x = x.mean(axis=axis, dtype=np.float64) if x.shape[axis] > 1 else x.reshape(-1)
    elif x.ndim != 1:
        raise DataError(f"audio must be 1-D (samples) or 2-D (samples x channels), "
                         f"got shape {x.shape}")
    return np.ascontiguousarray(x, dtype=np.float32)


def find_audio_files(paths: Iterable[PathLike]) -> list[tuple[str, Optional[str]]]:
    """Expand files and folders into ``(path, error)`` entries, in the order given.

    Folders are walked recursively (sorted, symlinked folders not followed) for files with
    an extension in :data:`AUDIO_EXTENSIONS`. ``error`` is None for a file to score, else a
    one-line reason (a path that does not exist, a folder without audio files).
    """
    out: list[tuple[str, Optional[str]]] = []
    for raw in paths:
        p = Path(raw)
        name = os.fspath(raw)
        if p.is_dir():
            found = []
            for root, dirs, files in os.walk(p):
                dirs.sort()
                for f in sorted(files):
                    if os.path.splitext(f)[1].lower() in AUDIO_EXTENSIONS:
                        found.append(os.path.join(root, f))
            if found:
                out.extend((f, None) for f in found)
            else:
                out.append((name, f"no audio files ({', '.join(sorted(AUDIO_EXTENSIONS))}) "
                                  f"found under folder {name}"))
        elif p.exists():
            out.append((name, None))
        else:
            out.append((name, f"no such file or folder: {name}"))
    return out


# --------------------------------------------------------------------------- detector


@dataclass
class _Job:
    """One input: its 16 kHz audio, where its windows start, and the logits gathered so far."""

    path: str
    error: Optional[str] = None
    audio: Optional[np.ndarray] = None  # 16 kHz mono float32 (already padded if short)
    starts: list = field(default_factory=list)
    n16: int = 0  # samples at 16 kHz before padding
    duration_s: float = 0.0
    sample_rate: int = 0
    logits: list = field(default_factory=list)  # one (2,) float32 array per scored window

    @property
    def done(self) -> bool:
        return self.error is not None or len(self.logits) == len(self.starts)


class Detector:
    """A model plus the rules for turning any audio into one bona fide score.

    Args:
        config: a ``.conf`` file (e.g. ``config/AASIST-L.conf``); None: found from ``weights``
            (see :func:`aasist.pretrained.resolve`).
        weights: the state_dict ``.pth`` (official checkpoint or ours), or ``official:NAME``;
            None with no config: the bundled official AASIST-L.
        device: ``"cpu"``, ``"cuda"`` or None (cuda when available).
        threshold: None = label by ``p_bonafide >= 0.5``; a number T = label by
            ``score >= T`` (see the module doc, "Threshold").
        hop_seconds: hop between windows of long audio (default: half a window).
        overrides: ``KEY=VALUE`` config overrides, e.g. ``["model_config.nb_samp=16000"]``.
        batch_size: windows per forward pass (default 1 on CPU, where batching gains
            nothing, so each window's score is independent of the other files; 32 on CUDA).
        aggregate: ``"min"`` (least bona fide window) or ``"mean"`` (mean logits).
        workers: model threads used by :func:`predict_paths` (default: on CPU one per
            torch thread, at most 8, sharing the torch threads; on CUDA 1). See the module
            doc, "Throughput".
    """

    def __init__(self, config: Optional[PathLike] = None, weights: Optional[PathLike] = None,
                 device: Optional[str] = None,
                 threshold: Optional[float] = None, hop_seconds: Optional[float] = None,
                 overrides: Sequence[str] = (), batch_size: Optional[int] = None,
                 aggregate: str = "min", workers: Optional[int] = None):
        from . import load_model
        from .runtime import resolve_device

        model = load_model(config, weights, device=str(resolve_device(device)), overrides=overrides)
        self._setup(model, int(model.d_args["nb_samp"]), threshold, hop_seconds,
                    batch_size, aggregate, workers)

    @classmethod
    def from_model(cls, model, nb_samp: Optional[int] = None, threshold: Optional[float] = None,
                   hop_seconds: Optional[float] = None, batch_size: Optional[int] = None,
                   aggregate: str = "min", workers: Optional[int] = None) -> "Detector":
        """Wrap an already built model (``nb_samp`` default: its config's ``nb_samp``)."""
        if nb_samp is None:
            nb_samp = int(model.d_args["nb_samp"])
        det = cls.__new__(cls)
        det._setup(model.eval(), int(nb_samp), threshold, hop_seconds, batch_size, aggregate,
                   workers)
        return det

    def _setup(self, model, nb_samp, threshold, hop_seconds, batch_size, aggregate,
               workers) -> None:
        import torch

        self.model = model
        self.device = next(model.parameters()).device
        min_samples = int(getattr(model, "min_samples", 1))
        if nb_samp < min_samples:
            raise ConfigError(f"nb_samp={nb_samp} is shorter than the model minimum {min_samples}")
        self.nb_samp = nb_samp
        if hop_seconds is None:
            self.hop = max(1, nb_samp // 2)
        else:
            if not (isinstance(hop_seconds, (int, float)) and math.isfinite(hop_seconds)
                    and hop_seconds > 0):
                raise ConfigError(f"hop must be a positive number of seconds, got {hop_seconds!r}")
            self.hop = max(1, int(round(hop_seconds * SAMPLE_RATE)))
            if self.hop > nb_samp:
                raise ConfigError(f"hop {hop_seconds} s is longer than the window "
                                 f"{nb_samp / SAMPLE_RATE:.4g} s: audio between windows would "
                                 f"not be scored")
        if threshold is not None and not math.isfinite(float(threshold)):
            raise ConfigError(f"threshold must be a finite number, got {threshold!r}")
        self.threshold = None if threshold is None else float(threshold)
        if aggregate not in AGGREGATIONS:
            raise ConfigError(f"unknown aggregate {aggregate!r}; choose one of {', '.join(AGGREGATIONS)}")
        self.aggregate = aggregate
        cpu = self.device.type == "cpu"
        if batch_size is None:
            batch_size = 1 if cpu else 32
        if int(batch_size) < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = int(batch_size)
        if workers is None:
            workers = min(8, max(1, torch.get_num_threads())) if cpu else 1
        if int(workers) < 1:
            raise ConfigError(f"workers must be >= 1, got {workers}")
        self.workers = int(workers)

    @property
    def hop_seconds(self) -> float:
        return self.hop / SAMPLE_RATE

    # ---- audio -> windows

    def _job_from_audio(self, path: str, x: np.ndarray, sample_rate: int) -> _Job:
        if not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
            raise DataError(f"{path}: sample_rate must be a positive integer, got {sample_rate!r}")
        if x.shape[0] == 0:
            raise DataError(f"{path}: audio has no samples")
        if not np.isfinite(x).all():
            raise DataError(f"{path}: audio contains NaN or infinite samples")
        duration = x.shape[0] / float(sample_rate)
        x16 = resample_to_16k(x, int(sample_rate))
        n16 = int(x16.shape[0])
        if n16 == 0:
            raise DataError(f"{path}: audio too short to resample ({x.shape[0]} samples at "
                            f"{sample_rate} Hz)")
        nb = self.nb_samp
        if n16 <= nb:
            audio, starts = np.ascontiguousarray(repeat_pad(x16, nb)), [0]
        else:
            audio = x16
            starts = list(range(0, n16 - nb, self.hop)) + [n16 - nb]
        return _Job(path=path, audio=audio, starts=starts, n16=n16, duration_s=duration,
                    sample_rate=int(sample_rate))

    def _load_job(self, path: str) -> _Job:
        x, sr = read_audio(path)
        return self._job_from_audio(path, x, sr)

    def _safe_job(self, path: str, error: Optional[str] = None) -> _Job:
        """Decode one path into a job; any failure becomes the job's error (one line)."""
        if error is not None:
            return _Job(path=path, error=error)
        try:
            return self._load_job(path)
        except Exception as exc:  # one bad file must never stop the batch
            return _Job(path=path, error=_one_line(exc))

    def _window(self, job: _Job, i: int) -> np.ndarray:
        s = job.starts[i]
        return job.audio[s:s + self.nb_samp]

    # ---- model

    def logits(self, windows: np.ndarray) -> np.ndarray:
        """(B, nb_samp) float32 windows -> (B, 2) float32 logits (column 1 = bona fide)."""
        import torch

        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float32)).to(self.device)
            return self.model(x).float().cpu().numpy()

    # ---- windows -> result

    def _result(self, job: _Job, timeline: bool) -> dict:
        if job.error is not None:
            return {"path": job.path, "error": job.error}
        lg = np.stack(job.logits).astype(np.float32)  # (k, 2)
        if not np.isfinite(lg).all():
            return {"path": job.path, "error": "the model produced a non-finite score"}
        if self.aggregate == "mean":
            l0, l1 = (float(v) for v in lg.astype(np.float64).mean(axis=0))
        else:
            stat = lg[:, 1] if self.threshold is not None else lg[:, 1] - lg[:, 0]
            i = int(np.argmin(stat))  # first of equal minima
            l0, l1 = float(lg[i, 0]), float(lg[i, 1])
        p = _p_bonafide(l0, l1)
        bona = (l1 >= l0) if self.threshold is None else (l1 >= self.threshold)
        out = {"path": job.path, "score": l1, "p_bonafide": p,
               "label": "bonafide" if bona else "spoof",
               "duration_s": job.duration_s, "sample_rate": job.sample_rate,
               "windows": len(job.starts)}
        if timeline:
            out["timeline"] = [  # a padded clip's only window ends where the audio ends
                {"start_s": s / SAMPLE_RATE, "end_s": min(s + self.nb_samp, job.n16) / SAMPLE_RATE,
                 "score": float(w[1]), "p_bonafide": _p_bonafide(w[0], w[1])}
                for s, w in zip(job.starts, lg)]
        return out

    def _run_job(self, job: _Job) -> None:
        for b in range(0, len(job.starts), self.batch_size):
            idx = range(b, min(b + self.batch_size, len(job.starts)))
            batch = np.stack([self._window(job, i) for i in idx])
            job.logits.extend(self.logits(batch))

    def score(self, path_or_array: Any, sample_rate: Optional[int] = None,
              timeline: bool = False) -> dict:
        """Score one file (path) or one waveform (array/tensor plus ``sample_rate``).

        Arrays: 1-D, or 2-D with channels on the shorter axis (``soundfile.read``'s
        (frames, channels) and ``torchaudio.load``'s (channels, frames) both work); integer
        PCM is scaled to [-1, 1). Raises DataError / ValueError for audio that cannot be
        scored (use :func:`predict_paths` to get per-file errors instead).
        """
        if isinstance(path_or_array, (str, os.PathLike)):
            if sample_rate is not None:
                raise ValueError("sample_rate is read from the file; pass it only with an array")
            job = self._load_job(os.fspath(path_or_array))
        else:
            if sample_rate is None:
                raise ValueError("pass sample_rate= with an array (e.g. sample_rate=16000)")
            job = self._job_from_audio("<array>", _to_mono_float32(path_or_array), sample_rate)
        self._run_job(job)
        result = self._result(job, timeline)
        if "error" in result:
            raise DataError(f"{job.path}: {result['error']}")
        return result


# --------------------------------------------------------------------------- many files

_END = object()


def _put(out: "queue.Queue", item: Any, stop: threading.Event) -> bool:
    """Put ``item``, waiting in short steps so a stop request is noticed; False if stopped."""
    while not stop.is_set():
        try:
            out.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _producer(detector: Detector, entries, out: "queue.Queue", stop: threading.Event) -> None:
    """Background thread: decode and resample the next files while the model runs."""
    try:
        for path, error in entries:
            if stop.is_set() or not _put(out, detector._safe_job(path, error), stop):
                return
        item: Any = _END
    except BaseException as exc:  # a bug: hand it to the consumer to re-raise
        item = exc
    _put(out, item, stop)


def predict_paths(detector: Detector, paths: Iterable[PathLike], timeline: bool = False,
                  progress: bool = True, prefetch: int = 8) -> Iterator[dict]:
    """Score files and folders (recursively), yielding one result dict per file, in order.

    A background thread decodes and resamples up to ``prefetch`` files ahead; windows of
    consecutive files are cut into batches of ``detector.batch_size`` and run on
    ``detector.workers`` model threads. With more than one worker on CPU, torch's
    process-wide thread count is set so that the workers share the torch threads (one
    each by default) while the generator runs, and restored afterwards. A file that cannot
    be scored yields ``{"path", "error"}`` and the rest go on. Progress: tqdm on stderr.
    """
    import torch
    from tqdm import tqdm

    entries = find_audio_files(paths)
    jobs: "queue.Queue" = queue.Queue(maxsize=max(1, int(prefetch)))
    stop = threading.Event()
    decoder = threading.Thread(target=_producer, args=(detector, entries, jobs, stop),
                               name="aasist-predict-decode", daemon=True)
    workers = detector.workers
    threads_before = torch.get_num_threads()
    per_worker = max(1, threads_before // workers)
    if workers > 1 and detector.device.type == "cpu":
        # One single-threaded model per core degrades gracefully on a busy machine, where
        # OpenMP's barriers make a 2-thread forward up to 10x slower when a core is taken.
        torch.set_num_threads(per_worker)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="aasist-predict-model",
                              initializer=torch.set_num_threads, initargs=(per_worker,)) \
        if detector.device.type == "cpu" else ThreadPoolExecutor(max_workers=workers)
    bar = tqdm(total=len(entries), unit="file", disable=not progress, dynamic_ncols=True,
               desc="predict", leave=False)
    pending: deque = deque()  # jobs not yet yielded, in input order
    inflight: deque = deque()  # (future, [(job, window index), ...]) in submission order
    current: Optional[_Job] = None  # job whose windows are being cut into batches
    next_window = 0
    finished = False

    def next_batch() -> list:
        nonlocal current, next_window, finished
        batch: list = []
        while len(batch) < detector.batch_size and not finished:
            if current is not None and next_window < len(current.starts):
                take = min(detector.batch_size - len(batch), len(current.starts) - next_window)
                batch.extend((current, next_window + k) for k in range(take))
                next_window += take
                continue
            item = jobs.get()
            if item is _END:
                finished = True
            elif isinstance(item, BaseException):
                raise item
            else:
                pending.append(item)
                current, next_window = (None, 0) if item.error is not None else (item, 0)
        return batch

    decoder.start()
    try:
        while True:
            while len(inflight) < workers + 1:  # keep every worker busy, one batch queued
                batch = next_batch()
                if not batch:
                    break
                windows = np.stack([detector._window(j, i) for j, i in batch])
                inflight.append((pool.submit(detector.logits, windows), batch))
                if pending and pending[0].done:  # an error/ready job at the front: yield it
                    break
            if inflight:
                future, batch = inflight.popleft()
                for (job, _), row in zip(batch, future.result()):
                    job.logits.append(row)
            while pending and pending[0].done:
                job = pending.popleft()
                result = detector._result(job, timeline)
                job.audio = None  # free the decoded audio
                bar.update(1)
                yield result
            if finished and not inflight and not pending:
                break
    finally:
        stop.set()
        for future, _ in inflight:
            future.cancel()
        pool.shutdown(wait=True)
        if torch.get_num_threads() != threads_before:
            torch.set_num_threads(threads_before)
        bar.close()
        decoder.join(timeout=5)


# --------------------------------------------------------------------------- output


class ResultWriter:
    """Write result dicts as JSON Lines (``"json"``) or CSV (``"csv"``) to a text stream.

    CSV: the header row comes with the first result; columns are :data:`CSV_FIELDS`, plus
    ``timeline`` (a JSON string) when ``timeline=True``; an error row fills only ``path``
    and ``error``. Each result is flushed at once, so output can be piped while it runs.
    """

    def __init__(self, format: str, stream: IO[str], timeline: bool = False):
        if format not in FORMATS:
            raise ConfigError(f"unknown output format {format!r}; choose one of {', '.join(FORMATS)}")
        self.format = format
        self.stream = stream
        self.timeline = timeline
        self._csv = None
        if format == "csv":
            fields = list(CSV_FIELDS) + (["timeline"] if timeline else [])
            self._csv = csv.DictWriter(stream, fieldnames=fields, extrasaction="ignore",
                                       lineterminator="\n")
            self._header = False

    def write(self, result: Mapping[str, Any]) -> None:
        if self.format == "json":
            row = {k: v for k, v in result.items() if k != "timeline" or self.timeline}
            self.stream.write(json.dumps(row, allow_nan=False) + "\n")
        else:
            if not self._header:
                self._csv.writeheader()
                self._header = True
            row = dict(result)
            if self.timeline and "timeline" in row:
                row["timeline"] = json.dumps(row["timeline"], allow_nan=False)
            self._csv.writerow(row)
        self.stream.flush()


# --------------------------------------------------------------------------- benchmark


def make_test_files(folder: PathLike, n_files: int, seconds: float,
                    sample_rate: int = SAMPLE_RATE, seed: int = 0, ext: str = "flac") -> list[str]:
    """Write ``n_files`` seeded noise-like 16-bit clips of ``seconds`` s (for benchmarks)."""
    import soundfile as sf

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n = max(1, int(round(seconds * sample_rate)))
    t = np.arange(n) / sample_rate
    paths = []
    for k in range(n_files):
        f0 = rng.uniform(90, 250)
        envelope = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(2, 6) * t) ** 2
        x = 0.2 * envelope * np.sin(2 * np.pi * f0 * t) + 0.02 * rng.standard_normal(n)
        path = folder / f"clip_{k:05d}.{ext}"
        sf.write(str(path), np.clip(x, -1, 1).astype(np.float32), sample_rate, subtype="PCM_16")
        paths.append(str(path))
    return paths


def benchmark_predict(detector: Detector, n_files: int = 50, seconds: float = 4.0,
                      sample_rate: int = SAMPLE_RATE, workdir: Optional[PathLike] = None,
                      seed: int = 0) -> dict:
    """Time :func:`predict_paths` on ``n_files`` generated FLAC files of ``seconds`` s each.

    Decoding, resampling, batching and inference are all timed (file generation and one
    warm-up batch are not). Returns files/s, the real-time factor (audio seconds per wall
    second), the process CPU time, the 1-minute load average before the run (other
    processes on the machine slow it down) and the settings that produced them.
    """
    import torch

    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        files = make_test_files(tmp, n_files, seconds, sample_rate=sample_rate, seed=seed)
        for _ in predict_paths(detector, files[:2 * detector.workers], progress=False):
            pass  # warm-up: kernels and allocator
        load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        t0, c0 = time.perf_counter(), time.process_time()
        results = list(predict_paths(detector, files, progress=False))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    failed = [r for r in results if "error" in r]
    if failed:
        raise AasistError(f"benchmark: {len(failed)} generated file(s) failed: {failed[0]['error']}")
    audio_s = n_files * seconds
    return {
        "files": n_files, "seconds_per_file": seconds, "sample_rate": sample_rate,
        "audio_s": audio_s, "wall_s": wall, "files_per_s": n_files / wall,
        "x_real_time": audio_s / wall, "windows": sum(r["windows"] for r in results),
        # CPU seconds of this process (all threads): on a busy machine, cpu_s / torch_threads
        # estimates the wall time an idle machine would need
        "cpu_s": cpu, "load_avg_1min_before": load_before,
        "batch_size": detector.batch_size, "workers": detector.workers, "nb_samp": detector.nb_samp,
        "hop_s": detector.hop_seconds, "device": str(detector.device),
        "torch_threads": torch.get_num_threads(),
    }


__all__ = ["AGGREGATIONS", "AUDIO_EXTENSIONS", "CSV_FIELDS", "FORMATS", "Detector",
           "ResultWriter", "benchmark_predict", "find_audio_files", "make_test_files",
           "predict_paths", "resample_to_16k"]
