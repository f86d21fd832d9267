"""How the ``augment`` transforms run: built from validated entries, per clip or per batch.

Where they run: transforms that need the CPU (codecs, telephone, a user's noise or room
files) run per clip in the data loader (in its worker processes when ``num_workers`` > 0,
overlapping with the model). Everything after the last such transform runs on the whole
batch, on the training device, next to the model. Earlier torch transforms run per clip
too, so the list order is always the order applied.

Randomness: per-clip transforms draw from a numpy generator seeded by torch's default
generator, exactly like the random crops (so the DataLoader's seeding makes them
reproducible); batch transforms draw from a generator seeded by (run seed, epoch, batch),
so a resumed run applies the same augmentation as an uninterrupted one.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from . import channel, codecs, files
from .rawboost import RawBoostParams, apply_rawboost
from .spec import SAMPLE_RATE, validate_entry

# --------------------------------------------------------------------------- transforms

@dataclass(frozen=True)
class Transform:
    """A built transform: ``batch_fn(x (n, L) tensor, gen)`` or, for CPU-only ones,
    ``clip_fn(x (L,) float32 array, rng)``. Built from picklable partials, so datasets
    holding it can go to DataLoader worker processes under any start method."""
    name: str
    p: float
    batch_fn: Callable | None = None
    clip_fn: Callable | None = None

    @property
    def clip_only(self) -> bool:
        return self.batch_fn is None


def _rawboost_batch(x, gen, *, fs, params):
    return apply_rawboost(x, params, fs, gen)


def _noise_batch(x, gen, *, fs, snr_min, snr_max, slope_min, slope_max):
    return channel.coloured_noise(x, fs, snr_min, snr_max, slope_min, slope_max, gen)


def _reverb_batch(x, gen, *, fs, rt60_min, rt60_max, drr_min, drr_max):
    return channel.simulated_room(x, fs, rt60_min, rt60_max, drr_min, drr_max, gen)


def _bandlimit_batch(x, gen, *, fs, **limits):
    return channel.band_limit(x, fs, gen=gen, **limits)


def _packet_loss_batch(x, gen, *, fs, rate_min, rate_max, frame_ms):
    return channel.packet_loss(x, fs, rate_min, rate_max, frame_ms, gen)


def _codec_clip(x, rng, *, fs, codecs_, compression_min, compression_max):
    codec = codecs_[int(rng.integers(len(codecs_)))]
    return codecs.lossy_codec(x, fs, codec, rng.uniform(compression_min, compression_max))


def _telephone_clip(x, rng, *, fs, codecs_, low_hz, high_hz):
    return codecs.telephone(x, fs, codecs_[int(rng.integers(len(codecs_)))], low_hz, high_hz)


def _noise_files_clip(x, rng, *, fs, files_, snr_min, snr_max):
    return files.add_file_noise(x, fs, files_, snr_min, snr_max, rng)


def _reverb_files_clip(x, rng, *, fs, files_):
    return files.convolve_file_response(x, fs, files_, rng)


def build_transform(entry: Mapping[str, Any], index: int, fs: int = SAMPLE_RATE) -> Transform:
    """A validated entry -> a runnable Transform (checks codecs and folders here)."""
    entry = validate_entry(entry, index)
    key = f"augment[{index}]"
    name, p = entry["name"], entry["p"]
    v = {k: val for k, val in entry.items() if k not in ("name", "p")}
    P = functools.partial
    if name == "rawboost":
        return Transform(name, p, batch_fn=P(_rawboost_batch, fs=fs, params=RawBoostParams(**v)))
    if name in ("codec", "telephone"):
        table = codecs.LOSSY_CODECS if name == "codec" else codecs.TELEPHONE_CODECS
        codecs.check_available(v["codecs"], table, f"{key}.codecs")
        fn = _codec_clip if name == "codec" else _telephone_clip
        return Transform(name, p, clip_fn=P(fn, fs=fs, codecs_=tuple(v.pop("codecs")), **v))
    if name in ("noise", "reverb") and v["folder"]:
        found = files.list_audio(v["folder"], f"{key}.folder")
        if name == "noise":
            return Transform(name, p, clip_fn=P(_noise_files_clip, fs=fs, files_=found,
                                                snr_min=v["snr_min"], snr_max=v["snr_max"]))
        return Transform(name, p, clip_fn=P(_reverb_files_clip, fs=fs, files_=found))
    v.pop("folder", None)
    if name == "noise":
        return Transform(name, p, batch_fn=P(_noise_batch, fs=fs, **v))
    batch = {"reverb": _reverb_batch, "bandlimit": _bandlimit_batch, "packet_loss": _packet_loss_batch}
    return Transform(name, p, batch_fn=P(batch[name], fs=fs, **v))


# --------------------------------------------------------------------------- running

def mix_seed(*parts: int) -> int:
    """One 63-bit seed from several non-negative integers (numpy's SeedSequence hashing)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, np.uint64)[0] >> 1)


def run_on_clip(transforms: Sequence[Transform], x: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    """Apply ``transforms`` in order to one float32 clip (L,), each with its probability;
    torch transforms run on this clip alone, on the CPU."""
    for t in transforms:
        if rng.random() >= t.p:
            continue
        if t.clip_only:
            x = t.clip_fn(x, rng)
        else:
            gen = torch.Generator().manual_seed(int(rng.integers(2**63 - 1)))
            x = t.batch_fn(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None], gen)[0].numpy()
    return np.asarray(x, dtype=np.float32)


class Augmenter:
    """An ``augment`` list, built: `clip` runs the per-clip stage, `batch` the batch stage."""

    def __init__(self, entries: Sequence[Mapping[str, Any]], fs: int = SAMPLE_RATE) -> None:
        self.transforms = [build_transform(e, i, fs) for i, e in enumerate(entries)]
        last_clip_only = max((i for i, t in enumerate(self.transforms) if t.clip_only), default=-1)
        self.clip_stage = self.transforms[:last_clip_only + 1]
        self.batch_stage = self.transforms[last_clip_only + 1:]

    def clip(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The per-clip stage on one float32 window (L,); returns float32 (L,)."""
        return run_on_clip(self.clip_stage, x, rng)

    def whole_chain(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Every transform, in order, on one clip on the CPU (for offline copies)."""
        return run_on_clip(self.transforms, x, rng)

    def batch(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """The batch stage on ``x`` (n, L) float32 on ``gen``'s device; each transform is
        applied to a random subset of rows (each row with probability ``p``)."""
        for t in self.batch_stage:
            rows = torch.nonzero(torch.rand(len(x), generator=gen, device=gen.device) < t.p).flatten()
            if len(rows):
                x = x.clone()
                x[rows] = t.batch_fn(x[rows], gen).to(x.dtype)
        return x


class ClipAugmentedDataset(Dataset):
    """Wraps a training dataset of ``(float32 tensor (L,), label)`` items with the per-clip stage."""

    def __init__(self, dataset: Dataset, augmenter: Augmenter) -> None:
        self.dataset, self.augmenter = dataset, augmenter

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        x, label = self.dataset[index]
        # drawn from torch's default generator, as the crop was: seeded per DataLoader worker
        rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,)).item()))
        return torch.from_numpy(self.augmenter.clip(x.numpy(), rng)), label


class TrainAugmentation:
    """Training-time augmentation of a run: wraps the dataset and augments each batch.

    ``seed`` is the run's seed (plus the process rank under DDP). Batch randomness depends
    only on (seed, epoch, batch index), so `--resume` reproduces it exactly.
    """
    _BN_EPOCH = 2**31   # the SWA BatchNorm refresh after training: its own random stream

    def __init__(self, entries: Sequence[Mapping[str, Any]], seed: int, fs: int = SAMPLE_RATE) -> None:
        self.augmenter = Augmenter(entries, fs)
        self.seed = int(seed)

    @property
    def per_clip(self) -> bool:
        """Whether some transforms run per clip in the data loader (codecs, folders)."""
        return bool(self.augmenter.clip_stage)

    def wrap(self, dataset: Dataset) -> Dataset:
        """The dataset with the per-clip stage, or itself when there is none."""
        return ClipAugmentedDataset(dataset, self.augmenter) if self.per_clip else dataset

    def __call__(self, x: torch.Tensor, epoch: int, step: int) -> torch.Tensor:
        """Batch stage for batch ``step`` of ``epoch``; ``x`` (n, L) on the training device."""
        if not self.augmenter.batch_stage:
            return x
        gen = torch.Generator(device=x.device).manual_seed(mix_seed(self.seed, epoch, step))
        return self.augmenter.batch(x.float(), gen)

    def batches(self, loader: Iterable, device: torch.device) -> Iterator[torch.Tensor]:
        """The loader's inputs, augmented as in training (for the SWA BatchNorm refresh)."""
        for step, (x, _label) in enumerate(loader):
            yield self(x.to(device), self._BN_EPOCH, step)


def train_augmentation(config: Mapping[str, Any], rank: int = 0) -> TrainAugmentation | None:
    """The run's TrainAugmentation, or None when ``config['augment']`` is empty."""
    entries = config.get("augment") or []
    return TrainAugmentation(entries, seed=config["seed"] + rank) if entries else None


__all__ = ["Augmenter", "ClipAugmentedDataset", "TrainAugmentation", "Transform", "build_transform",
           "mix_seed", "run_on_clip", "train_augmentation"]
