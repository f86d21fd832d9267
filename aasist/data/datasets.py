"""torch Datasets for ASVspoof-style corpora, reading audio files or the decoded cache.

Both datasets take protocol records (anything with ``utt_id``; training also needs
``label``) and a *source*: either the folder of audio files (``<utt_id><audio_ext>``) or a
:class:`~aasist.data.cache.DecodedCache`. The items are the same either way, bit for bit.

Reproducible random crops: :class:`TrainDataset` draws each crop start from torch's
default generator. The DataLoader seeds it in every worker from its own ``generator``
(``base_seed + worker_id``), so ``DataLoader(ds, shuffle=True, num_workers=N,
generator=make_generator(seed), worker_init_fn=seed_worker)`` gives the same batches,
crops included, on every run with the same seed and ``N``. With ``num_workers=0`` the crops
come from the global torch generator: call ``torch.manual_seed(seed)`` first.
"""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import ConfigError, DataError
from .audio import (INT16_SCALE, NB_SAMP, SAMPLE_RATE, check_audio_folder, random_crop, read_audio,
                    repeat_pad, resample_to_16k)
from .cache import DecodedCache
from .protocols import utt_id_of

PathLike = Union[str, "os.PathLike[str]"]
Source = Union[PathLike, DecodedCache]


def seed_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: seed Python's and NumPy's global RNGs from the seed
    torch gave this worker (``base_seed + worker_id``, drawn from the loader's generator).

    The crops of :class:`TrainDataset` already use torch's per-worker generator; this makes
    any other randomness in a worker (NumPy, ``random``) reproducible too.
    """
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def make_generator(seed: int) -> torch.Generator:
    """A seeded torch.Generator for ``DataLoader(generator=...)`` (shuffle order and worker seeds)."""
    return torch.Generator().manual_seed(int(seed))


class _AudioDataset(Dataset):
    def __init__(self, records: Sequence[Any], source: Source, nb_samp: int = NB_SAMP, *,
                 audio_ext: str = ".flac", sample_rate: int = SAMPLE_RATE,
                 check_files: bool = True, resample: bool = False) -> None:
        if int(nb_samp) <= 0:
            raise ConfigError(f"nb_samp must be positive, got {nb_samp}")
        self.records = list(records)
        self.utt_ids = [utt_id_of(r) for r in self.records]
        self.nb_samp = int(nb_samp)
        self.audio_ext = audio_ext
        self.sample_rate = int(sample_rate)
        self.resample = resample and self.sample_rate == SAMPLE_RATE
        if isinstance(source, DecodedCache):
            self.cache: Optional[DecodedCache] = source
            self.audio_dir: Optional[Path] = None
            if source.sample_rate != self.sample_rate:
                raise DataError(f"decoded cache {source.data_path} holds {source.sample_rate} Hz "
                                f"audio, the dataset expects {self.sample_rate} Hz")
            if check_files:
                missing = [u for u in self.utt_ids if u not in source]
                if missing:
                    raise DataError(f"{len(missing)} of {len(self.utt_ids)} utterances are not in "
                                    f"the decoded cache {source.data_path} (e.g. "
                                    f"{', '.join(missing[:5])}); rebuild it from this protocol "
                                    f"with DecodedCache.build_or_load")
        else:
            self.cache = None
            self.audio_dir = Path(source)
            if check_files:
                check_audio_folder(self.audio_dir, self.utt_ids, audio_ext)

    def __len__(self) -> int:
        return len(self.records)

    def load(self, index: int) -> np.ndarray:
        """The whole utterance: float32 from audio files, an int16 view from the cache."""
        utt_id = self.utt_ids[index]
        if self.cache is not None:
            return self.cache.get(utt_id)
        assert self.audio_dir is not None
        path = self.audio_dir / f"{utt_id}{self.audio_ext}"
        x, sr = read_audio(path)
        if sr != self.sample_rate and self.resample:
            return resample_to_16k(x, sr)
        if sr != self.sample_rate:
            raise DataError(f"{path}: sample rate {sr} Hz, expected {self.sample_rate} Hz; "
                            f"resample the file to {self.sample_rate} Hz")
        return x

    @staticmethod
    def _to_tensor(segment: np.ndarray) -> torch.Tensor:
        if segment.dtype == np.int16:
            # one pass; int16 -> float32 and the power-of-two scale are exact (= read_audio)
            out = np.multiply(segment, np.float32(1.0 / INT16_SCALE), dtype=np.float32)
        else:
            out = np.array(segment, dtype=np.float32)  # own copy, independent of the source
        return torch.from_numpy(out)


class TrainDataset(_AudioDataset):
    """Training items ``(float32 tensor (nb_samp,), int label)``, label 1 = bona fide.

    Each item is a random window of ``nb_samp`` samples (start uniform over all valid
    starts); shorter clips are repeated to ``nb_samp`` (official ``pad_random``). See the
    module docstring for reproducible seeding.

    Args:
        records: protocol records with ``utt_id`` and ``label`` (e.g. from read_cm_protocol).
        source: the audio folder (e.g. ``la_paths(root, "train").flac_dir``) or a DecodedCache.
        nb_samp: samples per item (64600 in the official configs).
        audio_ext: file extension of the audio files in the folder.
        sample_rate: required sample rate; other rates raise DataError.
        check_files: check at construction that every utterance's audio exists.
    """

    def __init__(self, records: Sequence[Any], source: Source, nb_samp: int = NB_SAMP, *,
                 audio_ext: str = ".flac", sample_rate: int = SAMPLE_RATE,
                 check_files: bool = True) -> None:
        super().__init__(records, source, nb_samp, audio_ext=audio_ext,
                         sample_rate=sample_rate, check_files=check_files)
        try:
            self.labels = [int(r.label) for r in self.records]
        except AttributeError:
            raise DataError("TrainDataset needs records with a label (e.g. CmRecord from "
                            "read_cm_protocol), not bare utterance ids") from None

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        x = self.load(index)
        return self._to_tensor(random_crop(x, self.nb_samp)), self.labels[index]


class EvalDataset(_AudioDataset):
    """Evaluation items ``(float32 tensor (nb_samp,), utt_id)``.

    Each item is the first ``nb_samp`` samples; shorter clips are repeated to ``nb_samp``
    (official ``pad``). ``records`` may be records with ``utt_id`` or plain utterance ids;
    the other arguments are as for :class:`TrainDataset`, and ``resample=True`` brings audio
    files at other rates to 16 kHz instead of refusing them (for corpora that do not
    promise 16 kHz, like In-the-Wild).
    """

    def __getitem__(self, index: int) -> tuple[torch.Tensor, str]:
        x = self.load(index)
        return self._to_tensor(repeat_pad(x, self.nb_samp)), self.utt_ids[index]


__all__ = ["EvalDataset", "TrainDataset", "make_generator", "seed_worker"]
