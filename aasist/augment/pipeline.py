"""The config key ``augment``: named transforms, their validation, and how they run.

``augment`` is a list of transforms, applied in list order to each training window, each
with probability ``p``::

    "augment": [
        {"name": "codec", "p": 0.3, "codecs": ["mp3", "opus"]},
        {"name": "noise", "p": 0.4, "snr_min": 5, "snr_max": 30},
        {"name": "rawboost", "p": 0.5, "algo": 5}
    ]

Missing parameters take the defaults of `TRANSFORMS`; unknown names or parameters, wrong
types and impossible ranges are ConfigErrors naming ``augment[i].key``.

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

from ..errors import ConfigError
from . import channel, codecs, files
from .rawboost import PARAM_NAMES as RAWBOOST_PARAMS, RawBoostParams, apply_rawboost

SAMPLE_RATE = 16000

Param = tuple[type, Any, str]   # (type, default, what it does)


@dataclass(frozen=True)
class TransformSpec:
    """A named transform: its parameters, range checks and how to build it."""
    doc: str
    params: dict[str, Param]
    ranges: tuple[tuple[str, str], ...] = ()        # (min key, max key) pairs
    check: Callable[[dict, str], None] | None = None


def _rawboost_params() -> dict[str, Param]:
    defaults = RawBoostParams()
    docs = {"algo": "1 LnL, 2 ISD, 3 SSI, 4 = 1+2+3, 5 = 1+2, 6 = 1+3, 7 = 2+3, 8 = 1 || 2"}
    return {name: (type(getattr(defaults, name)), getattr(defaults, name),
                   docs.get(name, "as in RawBoost-antispoofing")) for name in RAWBOOST_PARAMS}


def _fail(key: str, message: str) -> None:
    raise ConfigError(f"config key '{key}' {message}")


def _check_rawboost(v: dict, key: str) -> None:
    if not 1 <= v["algo"] <= 8:
        _fail(f"{key}.algo", f"must be 1-8, got {v['algo']}")
    for name in ("nBands", "N_f", "minCoeff"):
        if v[name] < 1:
            _fail(f"{key}.{name}", f"must be at least 1, got {v[name]}")
    if v["maxCoeff"] > 1024:
        _fail(f"{key}.maxCoeff", f"must be at most 1024 taps, got {v['maxCoeff']}")
    if v["minF"] < 0 or v["maxF"] > SAMPLE_RATE / 2:
        _fail(f"{key}.minF", f"and maxF must lie in 0-{SAMPLE_RATE // 2} Hz")
    if v["minBW"] <= 0:
        _fail(f"{key}.minBW", f"must be positive, got {v['minBW']}")
    if not 0 <= v["P"] <= 100 or v["g_sd"] < 0:
        _fail(f"{key}.P", "must be a percentage (0-100) and g_sd non-negative")


def _check_codecs(table: dict) -> Callable[[dict, str], None]:
    def check(v: dict, key: str) -> None:
        bad = [c for c in v["codecs"] if c not in table]
        if not v["codecs"] or bad:
            _fail(f"{key}.codecs", f"must be a non-empty list of {', '.join(table)}, got {v['codecs']!r}")
        if "compression_min" in v and not 0 <= v["compression_min"] <= v["compression_max"] <= codecs.MAX_COMPRESSION:
            _fail(f"{key}.compression_max", f"compression levels must lie in 0-{codecs.MAX_COMPRESSION}")
        if "low_hz" in v and not 0 < v["low_hz"] < v["high_hz"] <= codecs.TELEPHONE_RATE / 2:
            _fail(f"{key}.low_hz", f"and high_hz must satisfy 0 < low_hz < high_hz <= {codecs.TELEPHONE_RATE // 2}")
    return check


def _check_positive(*names: str, upper: dict | None = None) -> Callable[[dict, str], None]:
    def check(v: dict, key: str) -> None:
        for name in names:
            if v[name] < 0:
                _fail(f"{key}.{name}", f"must not be negative, got {v[name]}")
        for name, limit in (upper or {}).items():
            if v[name] > limit:
                _fail(f"{key}.{name}", f"must be at most {limit}, got {v[name]}")
    return check


def _check_bandlimit(v: dict, key: str) -> None:
    if v["highpass_min"] < 0:
        _fail(f"{key}.highpass_min", f"must not be negative, got {v['highpass_min']}")
    if v["highpass_max"] >= v["lowpass_min"]:
        _fail(f"{key}.highpass_max", "must be below lowpass_min (the pass band would be empty)")
    if not 1 <= v["order"] <= 20:
        _fail(f"{key}.order", f"must be 1-20, got {v['order']}")


FOLDER_DOC = "folder of audio files to use instead of generated ones ('' = generate)"

TRANSFORMS: dict[str, TransformSpec] = {
    "rawboost": TransformSpec(
        "RawBoost (Tak et al. 2022), on the batch", _rawboost_params(),
        (("minF", "maxF"), ("minBW", "maxBW"), ("minCoeff", "maxCoeff"), ("minG", "maxG"),
         ("minBiasLinNonLin", "maxBiasLinNonLin"), ("SNRmin", "SNRmax")), _check_rawboost),
    "codec": TransformSpec(
        "lossy codec round trip (libsndfile), per clip",
        {"codecs": (list, ["mp3", "vorbis", "opus"], "drawn uniformly: mp3, vorbis, opus"),
         "compression_min": (float, 0.5, "libsndfile compression level, 0 = best quality"),
         "compression_max": (float, 0.95, "towards 0.99 = lowest bitrate")},
        (("compression_min", "compression_max"),), _check_codecs(codecs.LOSSY_CODECS)),
    "telephone": TransformSpec(
        "8 kHz narrowband call with a telephone codec, per clip",
        {"codecs": (list, ["gsm", "mulaw", "alaw", "g721"], "drawn uniformly: gsm, mulaw, alaw, g721, pcm"),
         "low_hz": (float, 300.0, "band-pass lower edge"), "high_hz": (float, 3400.0, "band-pass upper edge")},
        (), _check_codecs(codecs.TELEPHONE_CODECS)),
    "noise": TransformSpec(
        "additive noise at a drawn SNR: coloured (on the batch) or from files (per clip)",
        {"snr_min": (float, 5.0, "dB"), "snr_max": (float, 30.0, "dB"),
         "slope_min": (float, -6.0, "generated noise colour, dB per octave (0 white, -3 pink)"),
         "slope_max": (float, 3.0, "dB per octave"), "folder": (str, "", FOLDER_DOC)},
        (("snr_min", "snr_max"), ("slope_min", "slope_max"))),
    "reverb": TransformSpec(
        "room reverberation: simulated (on the batch) or measured responses (per clip)",
        {"rt60_min": (float, 0.2, "s"), "rt60_max": (float, 0.8, "s"),
         "drr_min": (float, 0.0, "direct-to-reverberant ratio, dB"), "drr_max": (float, 12.0, "dB"),
         "folder": (str, "", FOLDER_DOC)},
        (("rt60_min", "rt60_max"), ("drr_min", "drr_max")),
        _check_positive("rt60_min", upper={"rt60_max": 5.0})),
    "bandlimit": TransformSpec(
        "band limits of a cheap microphone or channel, on the batch",
        {"highpass_min": (float, 0.0, "Hz (0 = no high-pass)"), "highpass_max": (float, 300.0, "Hz"),
         "lowpass_min": (float, 3400.0, "Hz"), "lowpass_max": (float, 8000.0, "Hz (>= 8000 = no low-pass)"),
         "order": (int, 6, "filter order: 6 dB per octave each")},
        (("highpass_min", "highpass_max"), ("lowpass_min", "lowpass_max")), _check_bandlimit),
    "packet_loss": TransformSpec(
        "lost VoIP frames (silenced), on the batch",
        {"rate_min": (float, 0.0, "loss probability per frame"), "rate_max": (float, 0.1, ""),
         "frame_ms": (float, 20.0, "frame length, ms")},
        (("rate_min", "rate_max"),), _check_positive("rate_min", upper={"rate_max": 1.0})),
}


# --------------------------------------------------------------------------- validation

def _coerce(value: Any, kind: type, key: str) -> Any:
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind in (str, list) and isinstance(value, kind):
        return list(value) if kind is list else value
    raise ConfigError(f"config key '{key}' must be {kind.__name__}, got {value!r}")


def validate_entry(entry: Any, index: int) -> dict:
    """One ``augment`` entry -> a complete, checked dict (``name``, ``p``, every parameter)."""
    key = f"augment[{index}]"
    if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
        raise ConfigError(f"config key '{key}' must be an object with a 'name' "
                          f"({', '.join(TRANSFORMS)}), got {entry!r}")
    name = entry["name"]
    if name not in TRANSFORMS:
        raise ConfigError(f"config key '{key}.name': unknown transform {name!r}; valid: "
                          f"{', '.join(TRANSFORMS)}")
    spec = TRANSFORMS[name]
    unknown = sorted(set(entry) - {"name", "p"} - set(spec.params))
    if unknown:
        raise ConfigError(f"unknown config key '{key}.{unknown[0]}' for '{name}'; valid: p, "
                          f"{', '.join(spec.params)}")
    out = {"name": name, "p": _coerce(entry.get("p", 1.0), float, f"{key}.p")}
    if not 0 <= out["p"] <= 1:
        _fail(f"{key}.p", f"is a probability and must lie in 0-1, got {out['p']}")
    for param, (kind, default, _doc) in spec.params.items():
        out[param] = (_coerce(entry[param], kind, f"{key}.{param}") if param in entry
                      else (list(default) if isinstance(default, list) else default))
    for low, high in spec.ranges:
        if out[low] > out[high]:
            _fail(f"{key}.{low}", f"({out[low]}) must not exceed {high} ({out[high]})")
    if spec.check is not None:
        spec.check(out, key)
    return out


def validate_augment(entries: Any) -> list[dict]:
    """The whole ``augment`` list, validated and completed with defaults."""
    if not isinstance(entries, list):
        raise ConfigError(f"config key 'augment' must be a list of transforms, got {entries!r}")
    return [validate_entry(entry, i) for i, entry in enumerate(entries)]


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

    def wrap(self, dataset: Dataset) -> Dataset:
        """The dataset with the per-clip stage, or itself when there is none."""
        return ClipAugmentedDataset(dataset, self.augmenter) if self.augmenter.clip_stage else dataset

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


__all__ = ["Augmenter", "ClipAugmentedDataset", "TRANSFORMS", "TrainAugmentation", "Transform",
           "TransformSpec", "build_transform", "mix_seed", "run_on_clip", "train_augmentation",
           "validate_augment", "validate_entry"]
