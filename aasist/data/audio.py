"""Audio reading and the crop/pad rules of the official AASIST recipe.

* :func:`read_audio` reads any file libsndfile knows (FLAC, WAV, ...) as float32 mono,
  from a path or from a file object (an upload held in memory); :func:`audio_info` reads
  only the header: frames, sample rate, channels (what a server checks before decoding).
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
from typing import Any, BinaryIO, Optional, Sequence, Union

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


def _open_error(path: Union[Path, str], exc: Exception, source: object = None) -> DataError:
    text = str(exc)
    if source is not None:  # libsndfile names a file object by its repr: name the upload
        text = text.replace(repr(source), str(path))
        # and says this of bytes it cannot place, which reads oddly for an upload
        text = text.replace("File does not exist or is not a regular file (possibly a pipe?).",
                            "Format not recognised.")
    return DataError(f"{path}: cannot decode audio ({text}); the file is corrupt, truncated or "
                     f"not audio. Replace it (dataset files: re-extract or re-download the dataset).")


#: A path, or a binary file object open for reading (``io.BytesIO`` of an upload, say).
AudioSource = Union[PathLike, BinaryIO]
_DECODE_ERRORS = (RuntimeError, sf.SoundFileError, OSError, ValueError, EOFError, TypeError)


def _source(source: AudioSource, name: Optional[str]) -> tuple[Union[Path, str], Any]:
    """(the name messages use, what libsndfile opens) for a path or a file object.

    A path is checked like :func:`check_audio_file`; a file object is read from its current
    position, and one with nothing left to read is an empty file. ``name`` (file objects
    only; default: the object's ``name``, else ``<audio>``) names it in errors.
    """
    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        check_audio_file(p)
        return p, str(p)
    label = name or getattr(source, "name", None) or "<audio>"
    try:
        start = source.tell()
        size = source.seek(0, os.SEEK_END) - start
        source.seek(start)
    except (AttributeError, OSError, ValueError) as exc:
        raise DataError(f"{label}: cannot read audio from a {type(source).__name__} "
                        f"(it must be a seekable binary file object)") from exc
    if size <= 0:
        raise DataError(f"{label}: empty audio file (0 bytes)")
    return label, source


def audio_info(source: AudioSource, name: Optional[str] = None) -> tuple[int, int, int]:
    """``(frames, sample_rate, channels)`` from the header of an audio file, without decoding.

    ``source``: a path, or a seekable binary file object (its position is restored).
    ``frames`` is what the header declares; a header that does not say (a FLAC stream
    without a length, say) reports libsndfile's "unknown", a number near ``2**63``.
    Raises DataError naming the file if it is missing, empty or not audio libsndfile knows.
    """
    label, target = _source(source, name)
    start = None if isinstance(target, str) else target.tell()
    try:
        with sf.SoundFile(target) as f:
            return int(f.frames), int(f.samplerate), int(f.channels)
    except _DECODE_ERRORS as exc:
        raise _open_error(label, exc, None if start is None else target) from exc
    finally:
        if start is not None:
            target.seek(start)


def read_audio(path: AudioSource, name: Optional[str] = None) -> tuple[np.ndarray, int]:
    """Read an audio file as ``(float32 mono array (n,), sample_rate)``.

    ``path``: a file path, or a seekable binary file object (an upload held in memory as
    ``io.BytesIO``, read from its current position; ``name`` names it in errors).
    16-bit PCM gives ``int16 / 32768`` exactly; other encodings go through libsndfile's
    float64 conversion and are then rounded to float32 (as the official code does).
    Multi-channel audio is down-mixed by averaging the channels (in float32).
    Raises DataError naming the file if it is missing, empty, corrupt or has no samples.
    """
    p, target = _source(path, name)
    try:
        with sf.SoundFile(target) as f:
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
    except _DECODE_ERRORS as exc:
        # sf.LibsndfileError subclasses RuntimeError in soundfile >= 0.11; TypeError: a file
        # object whose name ends in .raw (libsndfile would need its rate and format)
        raise _open_error(p, exc, None if isinstance(target, str) else target) from exc
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


__all__ = ["NB_SAMP", "SAMPLE_RATE", "AudioSource", "audio_info", "random_crop", "random_start",
           "read_audio", "repeat_pad", "resample_factors", "resample_to_16k"]
