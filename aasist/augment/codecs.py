"""Lossy codecs and telephone channels, per clip on the CPU, through libsndfile (soundfile).

soundfile's bundled libsndfile encodes and decodes in memory: MP3 (LAME / mpg123), Ogg
Vorbis, Ogg Opus, and the telephone codecs GSM 06.10, G.711 mu-law and A-law and
G.721 ADPCM. Each round trip writes the clip to an in-memory file with the codec and
reads it back; the decoded audio is aligned with the input (libsndfile removes the
encoder delay) and cut or zero-padded to the input length.

A ``compression`` level is libsndfile's ``compression_level`` (0 = best quality, towards
1 = lowest bitrate); what it means in kbit/s differs per codec, see
``python -m experiments.benchmark --sections augment``.
"""
from __future__ import annotations

import io
from fractions import Fraction

import numpy as np
import soundfile as sf
from scipy.signal import butter, resample_poly, sosfiltfilt

from ..errors import ConfigError

# name -> (container, libsndfile subtype)
LOSSY_CODECS = {"mp3": ("MP3", "MPEG_LAYER_III"), "vorbis": ("OGG", "VORBIS"), "opus": ("OGG", "OPUS")}
TELEPHONE_CODECS = {"gsm": ("WAV", "GSM610"), "mulaw": ("WAV", "ULAW"), "alaw": ("WAV", "ALAW"),
                    "g721": ("WAV", "G721_32"), "pcm": ("WAV", "PCM_16")}
TELEPHONE_RATE = 8000
# libsndfile refuses a compression level of exactly 1.0 for MP3
MAX_COMPRESSION = 0.99


def check_available(codecs, table: dict, key: str) -> None:
    """Raise ConfigError if libsndfile here cannot encode one of ``codecs``."""
    subtypes = sf.available_subtypes()
    missing = [c for c in codecs if table[c][1] not in subtypes]
    if missing:
        raise ConfigError(f"{key}: this soundfile/libsndfile ({sf.__libsndfile_version__}) cannot "
                          f"encode {', '.join(missing)}; upgrade soundfile (pip install -U soundfile) "
                          f"or drop them from the list")


def fit_length(y: np.ndarray, length: int) -> np.ndarray:
    """Cut or zero-pad ``y`` to ``length`` samples."""
    if len(y) >= length:
        return y[:length]
    return np.concatenate([y, np.zeros(length - len(y), dtype=y.dtype)])


def round_trip(x: np.ndarray, sample_rate: int, container: str, subtype: str,
               compression: float | None = None) -> np.ndarray:
    """Encode ``x`` (L,) float with a codec in memory and decode it: float32 (L,)."""
    buffer = io.BytesIO()
    extra = {} if compression is None else {"compression_level": float(compression)}
    sf.write(buffer, np.clip(x, -1.0, 1.0).astype(np.float32), sample_rate, format=container,
             subtype=subtype, **extra)
    buffer.seek(0)
    y, _ = sf.read(buffer, dtype="float32", always_2d=False)
    return fit_length(y, len(x))


def lossy_codec(x: np.ndarray, fs: int, codec: str, compression: float) -> np.ndarray:
    """MP3 / Vorbis / Opus round trip at libsndfile compression level ``compression``."""
    container, subtype = LOSSY_CODECS[codec]
    return round_trip(x, fs, container, subtype, compression)


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Polyphase resampling (scipy), float32 out."""
    ratio = Fraction(rate_out, rate_in)
    return resample_poly(x, ratio.numerator, ratio.denominator).astype(np.float32)


def telephone(x: np.ndarray, fs: int, codec: str, low_hz: float, high_hz: float) -> np.ndarray:
    """Narrowband call: down to 8 kHz, band-pass ``low_hz``-``high_hz`` (zero phase, 4th
    order Butterworth), a telephone codec, and back to ``fs``; aligned, same length."""
    narrow = resample(x, fs, TELEPHONE_RATE)
    band = butter(4, [low_hz, min(high_hz, TELEPHONE_RATE / 2 - 1)], btype="bandpass",
                  fs=TELEPHONE_RATE, output="sos")
    narrow = sosfiltfilt(band, narrow).astype(np.float32)
    container, subtype = TELEPHONE_CODECS[codec]
    coded = round_trip(narrow, TELEPHONE_RATE, container, subtype)
    return fit_length(resample(coded, TELEPHONE_RATE, fs), len(x))


__all__ = ["LOSSY_CODECS", "TELEPHONE_CODECS", "check_available", "fit_length", "lossy_codec",
           "resample", "round_trip", "telephone"]
