"""Recorded noise and measured room responses from a user's folder, per clip on the CPU.

Point the ``noise`` transform at a folder of noise recordings (MUSAN's ``noise/`` and
``music/``, say) or the ``reverb`` transform at a folder of room impulse responses (the
RIRS_NOISES or BUT ReverbDB responses, say): every audio file libsndfile reads is used,
recursively, any sample rate (resampled), any channel count (the first channel).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import fftconvolve

from ..errors import ConfigError
from .codecs import resample

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".opus", ".aiff", ".aif", ".au"}


def list_audio(folder: str | Path, key: str) -> list[tuple[Path, int, int]]:
    """``(path, frames, sample_rate)`` of every audio file under ``folder``.

    A file with an audio extension that libsndfile cannot read, or that holds no samples, is
    a ConfigError naming it: training with fewer files than the folder holds, and saying
    nothing, would train on less than the user asked for.
    """
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise ConfigError(f"{key}: folder {root} not found; give a folder of audio files "
                          f"or drop '{key.rsplit('.', 1)[-1]}' to use generated audio")
    found, broken = [], []
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES):
        try:
            info = sf.info(str(path))
        except (RuntimeError, sf.LibsndfileError, OSError) as exc:
            why = " ".join(str(exc).replace(f"Error opening {str(path)!r}: ", "").split())
            broken.append(f"{path} ({why or exc.__class__.__name__})")
            continue
        if info.frames > 0:
            found.append((path, int(info.frames), int(info.samplerate)))
        else:
            broken.append(f"{path} (no samples)")
    if broken:
        more = f" and {len(broken) - 3} more" if len(broken) > 3 else ""
        raise ConfigError(f"{key}: {len(broken)} of {len(broken) + len(found)} audio files in "
                          f"{root} cannot be used: {'; '.join(broken[:3])}{more}; replace or "
                          f"remove them")
    if not found:
        raise ConfigError(f"{key}: no readable audio files in {root} "
                          f"({', '.join(sorted(AUDIO_SUFFIXES))})")
    return found


def _read(path: Path, start: int = 0, frames: int = -1) -> np.ndarray:
    data, _ = sf.read(str(path), start=start, frames=frames, dtype="float32", always_2d=True)
    return data[:, 0]


def noise_segment(entry: tuple[Path, int, int], length: int, fs: int,
                  rng: np.random.Generator) -> np.ndarray:
    """A random ``length``-sample stretch of a noise file at ``fs`` (looped if too short)."""
    path, frames, rate = entry
    need = int(np.ceil(length * rate / fs)) + 1
    start = int(rng.integers(0, frames - need + 1)) if frames > need else 0
    segment = _read(path, start, min(need, frames))
    if rate != fs:
        segment = resample(segment, rate, fs)
    return np.resize(segment, length).astype(np.float32)


def add_file_noise(x: np.ndarray, fs: int, files: list, snr_min: float, snr_max: float,
                   rng: np.random.Generator) -> np.ndarray:
    """Mix a random stretch of a random noise file at ``U(snr_min, snr_max)`` dB SNR."""
    noise = noise_segment(files[int(rng.integers(len(files)))], len(x), fs, rng)
    snr = rng.uniform(snr_min, snr_max)
    noise_norm = max(float(np.linalg.norm(noise)), 1e-12)
    scale = np.linalg.norm(x) / noise_norm / 10 ** (snr / 20)
    return (x + scale * noise).astype(np.float32)


def load_response(entry: tuple[Path, int, int], fs: int) -> np.ndarray:
    """A room impulse response at ``fs``, starting at its direct-path peak, unit energy."""
    path, _, rate = entry
    h = _read(path)
    if rate != fs:
        h = resample(h, rate, fs)
    h = h[int(np.argmax(np.abs(h))):]          # keep the output aligned with the input
    return (h / max(float(np.linalg.norm(h)), 1e-12)).astype(np.float32)


def convolve_file_response(x: np.ndarray, fs: int, files: list,
                           rng: np.random.Generator) -> np.ndarray:
    """Reverberate with a random measured response; the output keeps the input's RMS level."""
    h = load_response(files[int(rng.integers(len(files)))], fs)
    y = fftconvolve(x, h)[:len(x)]
    rms_in, rms_out = np.sqrt(np.mean(x ** 2)), np.sqrt(np.mean(y ** 2))
    return (y * (rms_in / rms_out if rms_out > 0 else 0.0)).astype(np.float32)


__all__ = ["add_file_noise", "convolve_file_response", "list_audio", "load_response", "noise_segment"]
