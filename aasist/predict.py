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
    The model sees ``nb_samp`` samples at a time: the config's scoring window
    (``model_config.eval_nb_samp`` where set, else ``nb_samp``; 64600 = 4.04 s in the official
    configs).

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
    :func:`predict_paths` reads the files through a ``torch.utils.data.DataLoader`` (which
    decodes, resamples and cuts each file into windows) and scores the windows of
    consecutive files in batches of ``batch_size`` under ``torch.inference_mode``, with
    torch's thread setting as the caller left it (``torch.set_num_threads`` or
    ``OMP_NUM_THREADS``). Defaults on CPU: batches of 8, decoding in the calling process
    (decoding a 4 s file costs 1-6 ms of CPU, the model at least ten times more, and the
    model's threads already keep the cores busy; a worker process would also be a fork of
    the process, whose copy-on-write pages the model then touches). On CUDA: batches of
    32 and up to 4 decoding worker processes, which keep the GPU fed. ``num_workers``
    (``--workers``) overrides it. ``python scripts/benchmark.py --sections predict``
    measures files/s and the real-time factor on generated files.

    Bits: float32 results depend slightly (~1e-6) on the batch size and thread count of the
    forward pass. :meth:`Detector.score` scores one clip of at most ``nb_samp`` samples as
    a batch of one, so it returns exactly ``model(repeat_pad(x)[None])[0, 1]``.
"""
from __future__ import annotations

import csv
import json
import math
import os
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import IO, Any, Iterable, Iterator, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from .config import scoring_samples
from .data.audio import SAMPLE_RATE, read_audio, repeat_pad, resample_to_16k
from .errors import AasistError, ConfigError, DataError
from .model import load_model
from .runtime import resolve_device

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
    """An exception as one line; exception types other than ours keep their class name."""
    text = " ".join(str(exc).split()) or exc.__class__.__name__
    if not isinstance(exc, AasistError):
        text = f"{exc.__class__.__name__}: {text}"
    return text


def p_bonafide(logit0: float, logit1: float) -> float:
    """softmax([logit0, logit1])[1] = sigmoid(logit1 - logit0), without overflow."""
    d = float(logit1) - float(logit0)
    if d >= 0:
        return 1.0 / (1.0 + math.exp(-d))
    e = math.exp(d)
    return e / (1.0 + e)


def to_mono_float32(audio: Any) -> np.ndarray:
    """A 1-D or 2-D (channels on the shorter axis) array/tensor -> float32 mono (n,)."""
    if isinstance(audio, torch.Tensor):
        audio = audio.detach().cpu().numpy()
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
        name = os.fspath(raw)
        if os.path.isdir(name):
            found = []
            for root, dirs, files in os.walk(name):
                dirs.sort()  # walk sub-folders in name order
                found += [os.path.join(root, f) for f in sorted(files)
                          if os.path.splitext(f)[1].lower() in AUDIO_EXTENSIONS]
            out.extend((f, None) for f in found)
            if not found:
                out.append((name, f"no audio files ({', '.join(sorted(AUDIO_EXTENSIONS))}) "
                                  f"found under folder {name}"))
        elif os.path.exists(name):
            out.append((name, None))
        else:
            out.append((name, f"no such file or folder: {name}"))
    return out


# --------------------------------------------------------------------------- audio -> windows


@dataclass
class Clip:
    """One input cut into windows, and the logits of the windows scored so far.

    ``audio`` is the 16 kHz mono float32 signal, already repeat-padded to ``nb_samp`` when
    it was shorter; window ``i`` is ``audio[starts[i]:starts[i] + nb_samp]``. A clip that
    could not be read has ``error`` set and no windows.
    """

    path: str
    error: Optional[str] = None
    audio: Optional[np.ndarray] = None
    starts: list[int] = field(default_factory=list)
    n16: int = 0  # samples at 16 kHz before padding
    duration_s: float = 0.0
    sample_rate: int = 0  # of the original audio
    logits: list[np.ndarray] = field(default_factory=list)  # one (2,) array per scored window

    @property
    def done(self) -> bool:
        return self.error is not None or len(self.logits) == len(self.starts)


def cut_windows(path: str, x: np.ndarray, sample_rate: int, nb_samp: int, hop: int) -> Clip:
    """Mono float32 audio at ``sample_rate`` -> a Clip at 16 kHz with its window starts.

    Up to ``nb_samp`` samples (after resampling): one window, repeat-padded like the
    official evaluation. Longer: a window every ``hop`` samples, the last one aligned to the
    end. Raises DataError for audio that cannot be scored.
    """
    if not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise DataError(f"{path}: sample_rate must be a positive integer, got {sample_rate!r}")
    if x.shape[0] == 0:
        raise DataError(f"{path}: audio has no samples")
    if not np.isfinite(x).all():
        raise DataError(f"{path}: audio contains NaN or infinite samples")
    x16 = resample_to_16k(x, int(sample_rate))
    n16 = int(x16.shape[0])
    if n16 == 0:
        raise DataError(f"{path}: audio too short to resample ({x.shape[0]} samples at "
                        f"{sample_rate} Hz)")
    if n16 <= nb_samp:
        audio, starts = np.ascontiguousarray(repeat_pad(x16, nb_samp)), [0]
    else:
        audio, starts = x16, list(range(0, n16 - nb_samp, hop)) + [n16 - nb_samp]
    return Clip(path=path, audio=audio, starts=starts, n16=n16,
                duration_s=x.shape[0] / float(sample_rate), sample_rate=int(sample_rate))


class _DecodedFiles(Dataset):
    """Item i of ``find_audio_files`` entries -> its Clip; a file that cannot be read (a
    DataError) or does not fit in memory becomes a Clip with ``error`` set."""

    def __init__(self, entries: Sequence[tuple[str, Optional[str]]], nb_samp: int, hop: int):
        self.entries, self.nb_samp, self.hop = list(entries), nb_samp, hop

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, i: int) -> Clip:
        path, error = self.entries[i]
        if error is not None:
            return Clip(path=path, error=error)
        try:
            x, sample_rate = read_audio(path)
            return cut_windows(path, x, sample_rate, self.nb_samp, self.hop)
        except (AasistError, MemoryError) as exc:  # one bad file must never stop the batch
            return Clip(path=path, error=_one_line(exc))


def _unchanged(clip: Clip) -> Clip:
    return clip  # the DataLoader's collate step: a Clip is passed on as it is


def file_loader(entries: Sequence[tuple[str, Optional[str]]], nb_samp: int, hop: int,
                num_workers: int = 0) -> DataLoader:
    """A DataLoader yielding one Clip per entry, in order; ``num_workers`` processes decode
    and resample ahead of the consumer (0: in the calling process)."""
    return DataLoader(_DecodedFiles(entries, nb_samp, hop), batch_size=None,
                      collate_fn=_unchanged, num_workers=num_workers,
                      prefetch_factor=4 if num_workers else None)


# --------------------------------------------------------------------------- detector


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
        batch_size: windows per forward pass (default 8 on CPU, 32 on CUDA).
        aggregate: ``"min"`` (least bona fide window) or ``"mean"`` (mean logits).
    """

    def __init__(self, config: Optional[PathLike] = None, weights: Optional[PathLike] = None,
                 device: Optional[str] = None,
                 threshold: Optional[float] = None, hop_seconds: Optional[float] = None,
                 overrides: Sequence[str] = (), batch_size: Optional[int] = None,
                 aggregate: str = "min"):
        model = load_model(config, weights, device=str(resolve_device(device)), overrides=overrides)
        self._setup(model, scoring_samples(model.d_args), threshold, hop_seconds, batch_size,
                    aggregate)

    @classmethod
    def from_model(cls, model: torch.nn.Module, nb_samp: Optional[int] = None,
                   threshold: Optional[float] = None, hop_seconds: Optional[float] = None,
                   batch_size: Optional[int] = None, aggregate: str = "min") -> "Detector":
        """Wrap an already built model (``nb_samp`` default: its config's scoring window,
        :func:`aasist.config.scoring_samples`)."""
        if nb_samp is None:
            nb_samp = scoring_samples(model.d_args)
        det = cls.__new__(cls)
        det._setup(model.eval(), int(nb_samp), threshold, hop_seconds, batch_size, aggregate)
        return det

    def _setup(self, model, nb_samp, threshold, hop_seconds, batch_size, aggregate) -> None:
        self.model = model
        self._lock = threading.Lock()
        self.device = next(model.parameters()).device
        min_samples = int(getattr(model, "min_samples", 1))
        if nb_samp < min_samples:
            raise ConfigError(f"nb_samp={nb_samp} is shorter than the model minimum {min_samples}")
        self.nb_samp = nb_samp
        self.hop = hop_samples(hop_seconds, nb_samp)
        if threshold is not None and not math.isfinite(float(threshold)):
            raise ConfigError(f"threshold must be a finite number, got {threshold!r}")
        self.threshold = None if threshold is None else float(threshold)
        if aggregate not in AGGREGATIONS:
            raise ConfigError(f"unknown aggregate {aggregate!r}; choose one of "
                              f"{', '.join(AGGREGATIONS)}")
        self.aggregate = aggregate
        if batch_size is None:
            batch_size = 8 if self.device.type == "cpu" else 32
        if int(batch_size) < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = int(batch_size)

    @property
    def hop_seconds(self) -> float:
        return self.hop / SAMPLE_RATE

    # ---- model

    def logits(self, windows: np.ndarray) -> np.ndarray:
        """(B, nb_samp) float32 windows -> (B, 2) float32 logits (column 1 = bona fide).

        Safe to call from several threads (a web server's requests): forward passes run
        one at a time instead of competing for the same cores.
        """
        with self._lock, torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float32)).to(self.device)
            return self.model(x).float().cpu().numpy()

    def warm_up(self) -> None:
        """One forward pass on silence, so the first real window does not pay for the
        allocations and kernel choices of a first call (live scoring, a server)."""
        self.logits(np.zeros((1, self.nb_samp), np.float32))

    def verdict(self, logit0: float, logit1: float) -> dict:
        """The two logits of a window (or a file) -> ``score``, ``p_bonafide``, ``label``."""
        bona = (logit1 >= logit0) if self.threshold is None else (logit1 >= self.threshold)
        return {"score": float(logit1), "p_bonafide": p_bonafide(logit0, logit1),
                "label": "bonafide" if bona else "spoof"}

    def score_clips(self, clips: Iterable[Clip]) -> Iterator[Clip]:
        """Fill in the logits of each clip's windows, yielding the clips in order.

        Windows of consecutive clips share batches of ``batch_size``; a clip is yielded as
        soon as all its windows (none for a clip with an error) are scored.
        """
        waiting: deque[Clip] = deque()
        batch: list[tuple[Clip, int]] = []
        for clip in clips:
            waiting.append(clip)
            for start in clip.starts if clip.error is None else ():
                batch.append((clip, start))
                if len(batch) == self.batch_size:
                    self._score_batch(batch)
                    batch = []
                    yield from _pop_done(waiting)
            yield from _pop_done(waiting)
        if batch:
            self._score_batch(batch)
        yield from _pop_done(waiting)

    def _score_batch(self, batch: list[tuple[Clip, int]]) -> None:
        windows = np.stack([clip.audio[s:s + self.nb_samp] for clip, s in batch])
        for (clip, _), row in zip(batch, self.logits(windows)):
            clip.logits.append(row)

    # ---- windows -> result

    def result(self, clip: Clip, timeline: bool = False) -> dict:
        """A scored clip -> predict's result dict (see the module doc, "Output")."""
        if clip.error is not None:
            return {"path": clip.path, "error": clip.error}
        lg = np.stack(clip.logits).astype(np.float32)  # (windows, 2)
        if not np.isfinite(lg).all():
            return {"path": clip.path, "error": "the model produced a non-finite score"}
        if self.aggregate == "mean":
            l0, l1 = (float(v) for v in lg.astype(np.float64).mean(axis=0))
        else:
            stat = lg[:, 1] if self.threshold is not None else lg[:, 1] - lg[:, 0]
            i = int(np.argmin(stat))  # first of equal minima
            l0, l1 = float(lg[i, 0]), float(lg[i, 1])
        out = {"path": clip.path, **self.verdict(l0, l1), "duration_s": clip.duration_s,
               "sample_rate": clip.sample_rate, "windows": len(clip.starts)}
        if timeline:
            out["timeline"] = [  # a padded clip's only window ends where the audio ends
                {"start_s": s / SAMPLE_RATE,
                 "end_s": min(s + self.nb_samp, clip.n16) / SAMPLE_RATE,
                 "score": float(w[1]), "p_bonafide": p_bonafide(w[0], w[1])}
                for s, w in zip(clip.starts, lg)]
        return out

    def score(self, path_or_array: Any, sample_rate: Optional[int] = None,
              timeline: bool = False) -> dict:
        """Score one file (path) or one waveform (array/tensor plus ``sample_rate``).

        Arrays: 1-D, or 2-D with channels on the shorter axis (``soundfile.read``'s
        (frames, channels) and ``torchaudio.load``'s (channels, frames) both work); integer
        PCM is scaled to [-1, 1). Raises DataError for audio that cannot be scored (use
        :func:`predict_paths` to get per-file errors instead).
        """
        if isinstance(path_or_array, (str, os.PathLike)):
            if sample_rate is not None:
                raise DataError("sample_rate is read from the file; pass it only with an array")
            path = os.fspath(path_or_array)
            x, sample_rate = read_audio(path)
        else:
            if sample_rate is None:
                raise DataError("pass sample_rate= with an array (e.g. sample_rate=16000)")
            path, x = "<array>", to_mono_float32(path_or_array)
        (clip,) = self.score_clips([cut_windows(path, x, sample_rate, self.nb_samp, self.hop)])
        result = self.result(clip, timeline)
        if "error" in result:
            raise DataError(f"{clip.path}: {result['error']}")
        return result


def hop_samples(hop_seconds: Optional[float], nb_samp: int) -> int:
    """The hop between windows in samples (default: half a window), validated."""
    if hop_seconds is None:
        return max(1, nb_samp // 2)
    if not (isinstance(hop_seconds, (int, float)) and math.isfinite(hop_seconds)
            and hop_seconds > 0):
        raise ConfigError(f"hop must be a positive number of seconds, got {hop_seconds!r}")
    hop = max(1, int(round(hop_seconds * SAMPLE_RATE)))
    if hop > nb_samp:
        raise ConfigError(f"hop {hop_seconds} s is longer than the window "
                          f"{nb_samp / SAMPLE_RATE:.4g} s: audio between windows would "
                          f"not be scored")
    return hop


def _pop_done(waiting: deque) -> Iterator[Clip]:
    while waiting and waiting[0].done:
        yield waiting.popleft()


# --------------------------------------------------------------------------- many files


def predict_paths(detector: Detector, paths: Iterable[PathLike], timeline: bool = False,
                  progress: bool = True, num_workers: Optional[int] = None) -> Iterator[dict]:
    """Score files and folders (recursively), yielding one result dict per file, in order.

    ``num_workers`` DataLoader processes decode and resample the next files while the model
    runs (default: 0, in this process, on CPU; up to 4 on CUDA; see the module doc,
    "Throughput"). A file that cannot be scored yields ``{"path", "error"}`` and the rest
    go on. Progress: tqdm on stderr.
    """
    entries = find_audio_files(paths)
    if num_workers is None:
        cuda = detector.device.type == "cuda" and len(entries) > 1
        num_workers = min(4, os.cpu_count() or 1) if cuda else 0
    elif int(num_workers) < 0:
        raise ConfigError(f"workers must be >= 0, got {num_workers}")
    loader = file_loader(entries, detector.nb_samp, detector.hop, num_workers)
    with tqdm(total=len(entries), unit="file", disable=not progress, dynamic_ncols=True,
              desc="predict", leave=False) as bar:
        for clip in detector.score_clips(loader):
            result = detector.result(clip, timeline)
            clip.audio = None  # the decoded audio is no longer needed
            bar.update(1)
            yield result


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


__all__ = ["AGGREGATIONS", "AUDIO_EXTENSIONS", "CSV_FIELDS", "FORMATS", "Clip", "Detector",
           "ResultWriter", "cut_windows", "file_loader", "find_audio_files", "hop_samples",
           "p_bonafide",
           "predict_paths", "resample_to_16k", "to_mono_float32"]
