"""The one path from audio to scores, shared by evaluate, predict, stream and serve.

Window rule
    A model scores :func:`scoring_window` samples at a time (``model_config.eval_nb_samp``
    where set, else ``nb_samp``: 64,600 = 4.04 s for the official models). A clip of at most
    that many samples is scored as the official evaluation scores it: repeat-padded to the
    window (tile, then cut: :func:`aasist.data.audio.repeat_pad`). ``evaluate`` scores only
    that first window of each trial (the official rule, so score files match the official
    ones); ``predict``, ``stream`` and ``serve`` cut longer audio into windows every ``hop``
    samples (:func:`cut_windows`), the last one aligned to the end so every sample is seen.

Engine
    :class:`Engine` holds a model in eval mode with its window, device, batch size and
    mixed-precision choice, checks once that the window is long enough for the network,
    and runs forward passes one at a time (several threads may share it): on a batch of
    windows (:meth:`Engine.logits`), on an evaluation loader (:meth:`Engine.score_loader`),
    or on the windows of many clips batched across clips (:meth:`Engine.score_clips`).

Bits
    float32 results depend slightly (~1e-6) on the batch size and thread count of the
    forward pass.
"""
from __future__ import annotations

import math
import os
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from .data.audio import SAMPLE_RATE, read_audio, repeat_pad, resample_to_16k
from .errors import AasistError, Cancelled, ConfigError, DataError
from .runtime import autocast

PathLike = Union[str, "os.PathLike[str]"]

#: Extensions (lower case) picked up when a folder is searched; explicit files are always tried.
AUDIO_EXTENSIONS = frozenset({
    ".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc",
    ".au", ".snd", ".caf", ".w64", ".rf64", ".sph", ".nist",
})



def scoring_window(model_config: Mapping[str, Any]) -> int:
    """Samples per window when a model scores audio: ``eval_nb_samp``, else ``nb_samp``.

    The official recipe scores the first ``nb_samp`` samples, the length it trains on
    (4.04 s, most of an LA utterance). A config that trains on short crops for speed (the
    mini demo's 0.25 s) can score more of each clip: the model is length-agnostic.
    """
    return int(model_config.get("eval_nb_samp") or model_config["nb_samp"])


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


def _one_line(exc: BaseException) -> str:
    """An exception as one line; exception types other than ours keep their class name."""
    text = " ".join(str(exc).split()) or exc.__class__.__name__
    if not isinstance(exc, AasistError):
        text = f"{exc.__class__.__name__}: {text}"
    return text


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


# --------------------------------------------------------------------------- the engine


class Engine:
    """A model in eval mode, and how to run it.

    Args:
        model: the network (``(B, L) -> (B, 2)`` logits, column 1 = bona fide).
        window: samples per window (default: :func:`scoring_window` of ``model.d_args``).
        batch_size: windows per forward pass for :meth:`score_clips` (default 8 on CPU,
            32 on CUDA).
        amp: mixed precision on CUDA (see :func:`aasist.runtime.autocast`).
    """

    def __init__(self, model: torch.nn.Module, window: Optional[int] = None,
                 batch_size: Optional[int] = None, amp: bool = False):
        self.model = model.eval()
        self.device = next(model.parameters()).device
        self.window = int(window if window is not None else scoring_window(model.d_args))
        self.min_samples = int(getattr(model, "min_samples", 1))
        if self.window < self.min_samples:
            raise ConfigError(f"the scoring window of {self.window} samples is shorter than the "
                              f"{self.min_samples} samples this model needs; raise "
                              f"model_config.eval_nb_samp (or nb_samp)")
        if batch_size is None:
            batch_size = 8 if self.device.type == "cpu" else 32
        if int(batch_size) < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = int(batch_size)
        self.amp = amp
        self._lock = threading.Lock()

    def logits(self, windows: Union[np.ndarray, torch.Tensor]) -> np.ndarray:
        """(B, L) float32 windows -> (B, 2) float32 logits (column 1 = bona fide).

        Safe to call from several threads (a web server's requests): forward passes run
        one at a time instead of competing for the same cores.
        """
        if isinstance(windows, np.ndarray):
            windows = torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float32))
        with self._lock, torch.inference_mode(), autocast(self.device, self.amp):
            x = windows.to(self.device, non_blocking=True)
            return self.model(x).float().cpu().numpy()

    def warm_up(self) -> None:
        """One forward pass on silence, so the first real window does not pay for the
        allocations and kernel choices of a first call (live scoring, a server)."""
        self.logits(np.zeros((1, self.window), np.float32))

    def score_loader(self, loader: Iterable, progress: bool = True,
                     desc: str = "scoring") -> dict[str, float]:
        """utt_id -> bona fide logit (column 1) for every item of an ``(x, utt_ids)`` loader."""
        scores: dict[str, float] = {}
        for x, utt_ids in tqdm(loader, desc=desc, disable=not progress, leave=False, unit="batch"):
            for utt_id, value in zip(utt_ids, self.logits(x)[:, 1].tolist()):
                scores[utt_id] = value
        return scores

    def score_clips(self, clips: Iterable[Clip],
                    cancelled: Optional[Callable[[], bool]] = None) -> Iterator[Clip]:
        """Fill in the logits of each clip's windows, yielding the clips in order.

        Windows of consecutive clips share batches of ``batch_size``; a clip is yielded as
        soon as all its windows (none for a clip with an error) are scored. ``cancelled``,
        when given, is asked before each forward pass; once it answers True the scoring
        stops with :class:`~aasist.errors.Cancelled` (a server whose client went away).
        """
        waiting: deque[Clip] = deque()
        batch: list[tuple[Clip, int]] = []
        for clip in clips:
            waiting.append(clip)
            for start in clip.starts if clip.error is None else ():
                batch.append((clip, start))
                if len(batch) == self.batch_size:
                    self._score_batch(batch, cancelled)
                    batch = []
                    yield from _pop_done(waiting)
            yield from _pop_done(waiting)
        if batch:
            self._score_batch(batch, cancelled)
        yield from _pop_done(waiting)

    def _score_batch(self, batch: list[tuple[Clip, int]],
                     cancelled: Optional[Callable[[], bool]] = None) -> None:
        if cancelled is not None and cancelled():
            raise Cancelled(f"scoring of {batch[0][0].path} was cancelled")
        windows = np.stack([clip.audio[s:s + self.window] for clip, s in batch])
        for (clip, _), row in zip(batch, self.logits(windows)):
            clip.logits.append(row)


def _pop_done(waiting: deque) -> Iterator[Clip]:
    while waiting and waiting[0].done:
        yield waiting.popleft()



__all__ = ["AUDIO_EXTENSIONS", "Clip", "Engine", "cut_windows", "file_loader", "find_audio_files",
           "hop_samples", "scoring_window", "to_mono_float32"]
