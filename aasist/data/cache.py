"""Decoded-audio cache: decode a split's FLAC files once, then memory-map the samples.

Layout for ``cache_path = "cache/train"``::

    cache/train.int16        every utterance's int16 samples, end to end (raw, native order)
    cache/train.index.npz    utt_ids, offsets, lengths (in samples), sample_rate, fingerprint

The fingerprint hashes the cache format version, the sorted utterance ids (the protocol's
content) and each audio file's size and modification time, so a changed protocol or a
rewritten audio file makes :meth:`DecodedCache.build_or_load` rebuild the cache instead
of serving stale samples. Building writes temporary files next to the targets and renames
them into place (the index last: it is the completion marker), so an interrupted build
never leaves a cache that loads.

Only 16-bit PCM, mono audio at the expected sample rate (16 kHz for ASVspoof) is cached:
anything else is refused with a DataError (the cache stores int16 samples; such files
would not round-trip). Datasets then serve bit-identical float32 values (``int16 / 32768``)
from the cache and from the FLAC files.
"""
from __future__ import annotations

import hashlib
import os
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence, Union

import numpy as np
import soundfile as sf

from ..errors import DataError
from ..fileio import atomic_write
from .audio import SAMPLE_RATE, check_audio_file, check_audio_folder
from .protocols import utt_id_of

PathLike = Union[str, "os.PathLike[str]"]

CACHE_VERSION = 1
_CHUNK = 256  # files decoded per thread-pool round (bounds memory while building)


def _unique_ids(records: Iterable[Any]) -> list[str]:
    seen: set[str] = set()
    ids: list[str] = []
    for r in records:
        u = utt_id_of(r)
        if u not in seen:
            seen.add(u)
            ids.append(u)
    return ids


def _cache_files(cache_path: PathLike) -> tuple[Path, Path]:
    p = Path(cache_path)
    return p.with_name(p.name + ".int16"), p.with_name(p.name + ".index.npz")


def fingerprint(utt_ids: Sequence[str], audio_dir: PathLike, audio_ext: str = ".flac",
                sample_rate: int = SAMPLE_RATE) -> str:
    """SHA-256 over the format version, sorted utterance ids and each file's size and mtime.

    Raises DataError (naming the folder and a few missing files) if any file is missing.
    """
    audio_dir = Path(audio_dir)
    check_audio_folder(audio_dir, utt_ids, audio_ext)
    h = hashlib.sha256(f"aasist-decoded-cache v{CACHE_VERSION} int16 sr={sample_rate}\n".encode())
    for u in sorted(utt_ids):
        st = os.stat(audio_dir / f"{u}{audio_ext}")
        h.update(f"{u}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _decode_int16(path: Path, sample_rate: int) -> np.ndarray:
    """Decode one file to int16 mono, refusing anything that would not round-trip."""
    try:
        check_audio_file(path)
        with sf.SoundFile(str(path)) as f:
            if f.subtype != "PCM_16" or f.channels != 1 or f.samplerate != sample_rate:
                raise DataError(
                    f"{path}: the decoded cache stores 16-bit mono audio at {sample_rate} Hz, "
                    f"but this file is {f.subtype}, {f.channels} channel(s), {f.samplerate} Hz. "
                    f"Convert it (e.g. `sox in.flac -b 16 -c 1 -r {sample_rate} out.flac`) "
                    f"or read the audio files directly (no cache)")
            x = f.read(dtype="int16")
    except DataError:
        raise
    except (RuntimeError, sf.SoundFileError, OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path}: cannot decode audio ({exc}); the file is corrupt, truncated "
                        f"or not audio. Re-extract or re-download it.") from exc
    if x.shape[0] == 0:
        raise DataError(f"{path}: audio file has no samples (zero length); re-extract or "
                        f"re-download it, or remove it from the protocol")
    return x


class DecodedCache:
    """int16 samples of many utterances in one memory-mapped file.

    Create with :meth:`build_or_load` (or :meth:`open` for an existing cache). The memory
    map is opened lazily in each process, so a DataLoader's workers share the page cache
    instead of copying the samples.
    """

    def __init__(self, data_path: PathLike, utt_ids: Sequence[str], offsets: np.ndarray,
                 lengths: np.ndarray, sample_rate: int, fingerprint: str) -> None:
        self.data_path = Path(data_path)
        self.utt_ids = list(utt_ids)
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.sample_rate = int(sample_rate)
        self.fingerprint = fingerprint
        self._index = {u: i for i, u in enumerate(self.utt_ids)}
        self._mm: Optional[np.ndarray] = None

    # -- construction ------------------------------------------------------------------

    @classmethod
    def build_or_load(cls, records: Iterable[Any], flac_dir: PathLike, cache_path: PathLike, *,
                      audio_ext: str = ".flac", sample_rate: int = SAMPLE_RATE,
                      progress: bool = True, num_threads: Optional[int] = None) -> "DecodedCache":
        """Load the cache at ``cache_path`` if its fingerprint matches these records and audio
        files, otherwise (re)build it by decoding ``flac_dir/<utt_id><audio_ext>``.

        ``records`` are protocol records (anything with ``utt_id``) or utterance id strings.
        ``cache_path`` is a path prefix: ``cache/train`` -> ``cache/train.int16`` and
        ``cache/train.index.npz``. ``num_threads`` decoding threads (default: CPU count, at
        most 8); ``progress`` shows a tqdm bar on stderr.
        """
        ids = _unique_ids(records)
        if not ids:
            raise DataError(f"no utterances to cache for {cache_path}; the protocol is empty")
        fp = fingerprint(ids, flac_dir, audio_ext, sample_rate)
        data_path, index_path = _cache_files(cache_path)
        if index_path.exists():
            try:
                cache = cls.open(cache_path)
            except DataError:
                cache = None  # damaged or old format: rebuild
            if cache is not None and cache.fingerprint == fp:
                return cache
        return cls._build(ids, Path(flac_dir), cache_path, fp, audio_ext=audio_ext,
                          sample_rate=sample_rate, progress=progress, num_threads=num_threads)

    @classmethod
    def open(cls, cache_path: PathLike) -> "DecodedCache":
        """Open an existing cache without checking it against the audio files."""
        data_path, index_path = _cache_files(cache_path)
        if not index_path.is_file():
            raise DataError(f"no decoded cache at {cache_path} ({index_path} is missing); "
                            f"build it with DecodedCache.build_or_load")
        try:
            with np.load(index_path, allow_pickle=False) as z:
                version = int(z["version"])
                ids = [str(u) for u in z["utt_ids"]]
                offsets, lengths = z["offsets"], z["lengths"]
                sr, fp, total = int(z["sample_rate"]), str(z["fingerprint"]), int(z["total"])
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise DataError(f"{index_path}: damaged cache index ({exc}); delete it and the "
                            f".int16 file next to it to rebuild the cache") from exc
        if version != CACHE_VERSION:
            raise DataError(f"{index_path}: cache format v{version}, this code reads "
                            f"v{CACHE_VERSION}; delete it to rebuild")
        size = data_path.stat().st_size if data_path.is_file() else -1
        if size != total * 2:
            raise DataError(f"{data_path}: expected {total * 2} bytes, found "
                            f"{'no file' if size < 0 else size}; delete the cache to rebuild")
        return cls(data_path, ids, offsets, lengths, sr, fp)

    @classmethod
    def _build(cls, ids: list[str], audio_dir: Path, cache_path: PathLike, fp: str, *,
               audio_ext: str, sample_rate: int, progress: bool,
               num_threads: Optional[int]) -> "DecodedCache":
        from tqdm.auto import tqdm

        data_path, index_path = _cache_files(cache_path)
        threads = num_threads or min(8, os.cpu_count() or 1)
        offsets = np.zeros(len(ids), dtype=np.int64)
        lengths = np.zeros(len(ids), dtype=np.int64)
        total = 0
        # A failed build leaves the old cache as it was; the index is the completion
        # marker, so the old one goes just before the new samples replace the old ones
        # and the new one is published last.
        with atomic_write(data_path, "wb") as out, \
                ThreadPoolExecutor(max_workers=threads) as pool, \
                tqdm(total=len(ids), desc=f"decoding {Path(cache_path).name}", unit="file",
                     disable=not progress, leave=False) as bar:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start:start + _CHUNK]
                paths = [audio_dir / f"{u}{audio_ext}" for u in chunk]
                for i, x in enumerate(pool.map(_decode_int16, paths, [sample_rate] * len(paths)),
                                      start=start):
                    offsets[i], lengths[i] = total, x.shape[0]
                    total += x.shape[0]
                    out.write(x.astype("<i2", copy=False).tobytes())
                bar.update(len(chunk))
            index_path.unlink(missing_ok=True)
        with atomic_write(index_path, "wb") as f:
            np.savez(f, version=np.int64(CACHE_VERSION), utt_ids=np.array(ids), offsets=offsets,
                     lengths=lengths, sample_rate=np.int64(sample_rate),
                     fingerprint=np.array(fp), total=np.int64(total))
        return cls(data_path, ids, offsets, lengths, sample_rate, fp)

    # -- access ------------------------------------------------------------------------

    def _samples(self) -> np.ndarray:
        if self._mm is None:
            self._mm = np.memmap(self.data_path, dtype="<i2", mode="r")
        return self._mm

    def get(self, utt_id: str) -> np.ndarray:
        """The utterance's int16 samples: a read-only view into the memory map (no copy)."""
        i = self._index.get(utt_id)
        if i is None:
            raise DataError(f"utterance {utt_id!r} is not in the decoded cache {self.data_path}; "
                            f"rebuild the cache with the protocol you are using")
        o = int(self.offsets[i])
        return self._samples()[o:o + int(self.lengths[i])].view(np.ndarray)

    def __contains__(self, utt_id: object) -> bool:
        return utt_id in self._index

    def __len__(self) -> int:
        return len(self.utt_ids)

    def __repr__(self) -> str:
        return (f"DecodedCache({str(self.data_path)!r}, {len(self)} utterances, "
                f"{int(self.lengths.sum())} samples at {self.sample_rate} Hz)")

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_mm"] = None  # each process maps the file itself; never pickle the samples
        return state


__all__ = ["CACHE_VERSION", "DecodedCache", "fingerprint"]
