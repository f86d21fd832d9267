"""Audio reading and the crop/pad rules of the official AASIST recipe.

* :func:`read_audio` reads any file libsndfile knows (FLAC, WAV, ...) as float32 mono.
  For 16-bit files the values are exactly ``int16 / 32768`` -- bit-identical to the
  official ``sf.read`` (float64) followed by ``torch.Tensor`` (float32).
* :func:`repeat_pad` (= official ``pad``, the evaluation crop): the FIRST ``nb_samp``
  samples; shorter clips are repeated (tiled) and cut to ``nb_samp``.
* :func:`random_crop` (= official ``pad_random``): a window of ``nb_samp`` samples whose
  start is uniform over every valid start ``0 .. len - nb_samp`` inclusive; shorter clips
  are repeated from the start like :func:`repeat_pad`. Unlike the official code it does not
  crash for a clip of exactly ``nb_samp`` samples (``np.random.randint(0)``), and its last
  valid start is reachable.

All crop helpers keep the input dtype, so they work on int16 cache views as well.
"""
from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Sequence, Union

import numpy as np
import soundfile as sf
import torch
from scipy.signal import resample_poly

from ..errors import DataError

PathLike = Union[str, "os.PathLike[str]"]

NB_SAMP = 64600  # official input length: ~4.04 s at 16 kHz
SAMPLE_RATE = 16000
INT16_SCALE = 32768.0  # libsndfile's float scale for 16-bit PCM


_REEXTRACT = "re-extract the dataset (`aasist download`)"


def check_audio_file(path: Path) -> None:
    """DataError unless ``path`` is a non-empty file."""
    if not path.is_file():
        raise DataError(f"audio file not found: {path}; check the audio folder, or {_REEXTRACT}")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: empty audio file (0 bytes); re-extract or re-download it")


def check_audio_folder(folder: Path, utt_ids: Sequence[str], audio_ext: str) -> None:
    """DataError unless ``folder`` holds ``<utt_id><audio_ext>`` for every id."""
    if not folder.is_dir():
        raise DataError(f"audio folder not found: {folder}; check the path, or {_REEXTRACT}")
    present = set(os.listdir(folder))
    missing = [u for u in utt_ids if f"{u}{audio_ext}" not in present]
    if missing:
        shown = ", ".join(f"{m}{audio_ext}" for m in missing[:5])
        raise DataError(f"{folder}: {len(missing)} of {len(utt_ids)} audio files named in the "
                        f"protocol are missing (e.g. {shown}); re-extract the dataset or use "
                        "the protocol that matches this folder")


def _open_error(path: Path, exc: Exception) -> DataError:
    return DataError(f"{path}: cannot decode audio ({exc}); the file is corrupt, truncated or "
                     f"not audio. Replace it (dataset files: re-extract or re-download the dataset).")


def read_audio(path: PathLike) -> tuple[np.ndarray, int]:
    """Read an audio file as ``(float32 mono array (n,), sample_rate)``.

    16-bit PCM gives ``int16 / 32768`` exactly; other encodings go through libsndfile's
    float64 conversion and are then rounded to float32 (as the official code does).
    Multi-channel audio is down-mixed by averaging the channels (in float32).
    Raises DataError naming the file if it is missing, empty, corrupt or has no samples.
    """
    p = Path(path)
    check_audio_file(p)
    try:
        with sf.SoundFile(str(p)) as f:
            sr = int(f.samplerate)
            if f.subtype == "PCM_16" and f.channels == 1:
                x16 = f.read(dtype="int16")
                x = np.multiply(x16, np.float32(1.0 / INT16_SCALE), dtype=np.float32)  # exact
            else:
                # Mono: libsndfile's float64 rounded to float32, as the official code does.
                # Several channels: averaged in float32, so long recordings stay affordable.
                if f.channels == 1:
                    x = f.read(dtype="float64")[:].astype(np.float32)
                else:
                    x = f.read(dtype="float32", always_2d=True).mean(axis=1, dtype=np.float32)
    except DataError:
        raise
    except (RuntimeError, sf.SoundFileError, OSError, ValueError, EOFError) as exc:
        # sf.LibsndfileError subclasses RuntimeError in soundfile >= 0.11
        raise _open_error(p, exc) from exc
    if x.shape[0] == 0:
        raise DataError(f"{p}: audio file has no samples (zero length); replace it "
                        f"(dataset files: re-extract or re-download the dataset)")
    if not np.isfinite(x).all():  # float files can hold them; the model would score garbage
        raise DataError(f"{p}: the audio holds NaN or infinite samples; the file is damaged "
                        f"or not audio: replace it")
    return x, sr


def resample_factors(sample_rate: int) -> tuple[int, int]:
    """(up, down) for ``sample_rate`` -> 16 kHz: the exact ratio of the rates, reduced; a
    ratio whose terms exceed 1000 (e.g. 44101 Hz) is replaced by the nearest one below, an
    error of at most a few ppm in the output rate, so the filter stays small."""
    ratio = Fraction(SAMPLE_RATE, int(sample_rate))
    if max(ratio.numerator, ratio.denominator) > 1000:
        ratio = ratio.limit_denominator(1000)
    return ratio.numerator, ratio.denominator


def resample_to_16k(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """float32 mono (n,) at ``sample_rate`` -> float32 mono at 16 kHz (polyphase Kaiser FIR,
    ``scipy.signal.resample_poly`` with :func:`resample_factors`)."""
    if sample_rate == SAMPLE_RATE:
        return x
    y = resample_poly(x.astype(np.float64), *resample_factors(sample_rate))
    return y.astype(np.float32)


def repeat_pad(x: np.ndarray, n: int) -> np.ndarray:
    """First ``n`` samples of ``x`` repeated end to end (official ``pad``: tile, then cut).

    A clip of ``n`` samples or more is returned cut to its first ``n`` samples (a view).
    """
    if n <= 0:
        raise ValueError(f"nb_samp must be positive, got {n}")
    length = x.shape[0]
    if length == 0:
        raise ValueError("cannot pad an empty signal (0 samples)")
    if length >= n:
        return x[:n]
    repeats = n // length + 1
    return np.tile(x, repeats)[:n]


def random_start(length: int, n: int) -> int:
    """A start uniform over ``0 .. length - n`` inclusive (0 when ``length <= n``).

    Drawn from torch's default generator, which the DataLoader seeds per worker, so crops
    are reproducible given the loader's ``generator``.
    """
    if length <= n:
        return 0
    return int(torch.randint(0, length - n + 1, (1,)).item())


def random_crop(x: np.ndarray, n: int = NB_SAMP) -> np.ndarray:
    """Training crop: a random window of ``n`` samples (start uniform over all valid starts,
    see :func:`random_start`); shorter clips are repeat-padded from the start (official
    ``pad_random``, without its crash when ``len(x) == n``)."""
    length = x.shape[0]
    if length < n:
        return repeat_pad(x, n)
    start = random_start(length, n)
    return x[start:start + n]


__all__ = ["NB_SAMP", "SAMPLE_RATE", "random_crop", "random_start", "read_audio", "repeat_pad",
           "resample_factors", "resample_to_16k"]
