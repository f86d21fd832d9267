"""Which parts of a recording hold speech, so that a verdict is about speech only.

A spoofing detector's score on silence, music or noise is noise: AASIST was trained on
speech, and the ASVspoof 2019 corpora even let models key on the length of silences. Users
upload recordings with silence in them, so `predict`, `stream` and `serve` leave windows
without speech out of a file's verdict (``--no-vad`` turns that off).

The detector is Silero VAD (snakers4/silero-vad, MIT licence), whose model ships inside
its wheel: nothing is downloaded. It is loaded on first use, not at import. Importing
``silero_vad`` sets torch's thread count to 1 for the whole process; :func:`_load` puts the
count back, so the model keeps the threads the caller chose.
"""
from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .data.audio import SAMPLE_RATE

_lock = threading.Lock()
_loaded = None


def _load():
    """(Silero model, its ``get_speech_timestamps``), once per process, leaving torch's
    thread setting as it was (every import of silero_vad goes through here)."""
    global _loaded
    if _loaded is None:
        import torch

        threads = torch.get_num_threads()
        try:
            from silero_vad import get_speech_timestamps, load_silero_vad

            with warnings.catch_warnings():  # its TorchScript file: torch.jit.load's deprecation
                warnings.simplefilter("ignore", FutureWarning)
                _loaded = (load_silero_vad(), get_speech_timestamps)
        finally:
            torch.set_num_threads(threads)
    return _loaded


@dataclass(frozen=True)
class SpeechDetector:
    """Speech regions of 16 kHz audio.

    ``threshold``: Silero's speech probability above which a 32 ms frame is speech;
    ``min_speech_s`` / ``min_silence_s``: shorter speech is dropped, shorter pauses do not
    split a region; ``pad_s``: each region is widened by this much on both sides.
    """

    threshold: float = 0.5
    min_speech_s: float = 0.25
    min_silence_s: float = 0.3
    pad_s: float = 0.03

    def regions(self, x16: np.ndarray) -> list[tuple[int, int]]:
        """``[(start, end)]`` sample ranges of speech in ``x16`` (mono float32, 16 kHz)."""
        import torch

        x = torch.from_numpy(np.ascontiguousarray(x16, dtype=np.float32))
        with _lock, torch.inference_mode():
            model, get_speech_timestamps = _load()
            found = get_speech_timestamps(
                x, model, threshold=self.threshold, sampling_rate=SAMPLE_RATE,
                min_speech_duration_ms=int(1000 * self.min_speech_s),
                min_silence_duration_ms=int(1000 * self.min_silence_s),
                speech_pad_ms=int(1000 * self.pad_s))
        return [(int(r["start"]), int(r["end"])) for r in found]

    def has_speech(self, x16: np.ndarray, regions: Optional[list] = None, start: int = 0,
                   end: Optional[int] = None) -> bool:
        """Whether ``x16[start:end]`` holds speech: at least half of it, or a second
        (``regions`` are computed when not given)."""
        end = x16.shape[0] if end is None else end
        regions = self.regions(x16) if regions is None else regions
        covered = sum(max(0, min(end, b) - max(start, a)) for a, b in regions)
        return covered > 0 and covered >= min(SAMPLE_RATE, (end - start) / 2)


def speech_only(x16: np.ndarray, regions: list[tuple[int, int]]) -> np.ndarray:
    """The samples of ``x16`` inside ``regions``, joined end to end (silence cut out)."""
    if not regions:
        return np.zeros(0, np.float32)
    return np.concatenate([x16[a:b] for a, b in regions]).astype(np.float32, copy=False)


__all__ = ["SpeechDetector", "speech_only"]
