"""Writing the mini corpus: utterances, protocols, ASV scores and markers in the LA layout.

Determinism: every utterance is drawn from its own random stream seeded by
``(seed, split, index)``; the same seed gives byte-identical files, in any order.

Robustness: ``LA/.mini_config.json`` (seed and sizes) is written first and marks the folder
as generated; every file is written to a temporary name and renamed into place; the marker
``LA/.mini_complete.json`` is written last.  ``ensure_mini`` returns at once when the marker
matches the requested seed and sizes and (re)generates otherwise, so an interrupted run is
simply redone (finished audio files of the same configuration are reused, those of another
configuration deleted).  A folder holding a corpus not made here (the real LA) is never
touched.
"""
from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Mapping

import numpy as np
import soundfile as sf
from tqdm.auto import tqdm

from ...errors import ConfigError, DataError
from ...fileio import atomic_write
from ..protocols import SPLITS, LaPaths, la_paths
from .attacks import ATTACKS
from .dsp import SR, fit_length, rms, seeded_rng
from .voice import bonafide, speaker_voice

SAMPLE_RATE = SR
GENERATOR_VERSION = 3

TRAIN_ATTACKS = ("A01", "A02", "A03", "A04", "A05", "A06")
EVAL_ATTACKS = tuple(f"A{i:02d}" for i in range(7, 20))
SPLIT_ATTACKS = {"train": TRAIN_ATTACKS, "dev": TRAIN_ATTACKS, "eval": EVAL_ATTACKS}

#: (bona fide, spoof) utterance counts per split.
DEFAULT_SIZES: dict[str, tuple[int, int]] = {
    "train": (360, 840),
    "dev": (60, 140),
    "eval": (210, 490),
}

MARKER_NAME = ".mini_complete.json"
_OWNER_NAME = ".mini_config.json"  # written first: this folder is ours, with this config

_SPLIT_CODE = {"train": 1, "dev": 2, "eval": 3}
_UTT_PREFIX = {"train": "LA_T_", "dev": "LA_D_", "eval": "LA_E_"}
# Disjoint speaker pools, numbered as in the real corpus (train LA_0079-LA_0098, dev
# LA_0069-LA_0078, eval from LA_0001).
_SPEAKERS = {
    "train": tuple(range(79, 99)),
    "dev": tuple(range(69, 79)),
    "eval": tuple(range(1, 25)),
}

_MIN_DUR, _MAX_DUR = 1.0, 3.0  # seconds
# Final level, identical distribution for both classes; low enough that even the peakiest
# vocoder output (crest factor ~26 dB) is almost never scaled down to avoid clipping.
_RMS_DBFS = (-35.0, -26.0)


def synthesize_utterance(seed: int, split: str, index: int, speaker: int,
                         attack: str | None) -> np.ndarray:
    """Return one utterance as int16 samples at 16 kHz (the exact content of its FLAC file).

    ``attack`` is ``None`` for bona fide or an id ``A01``-``A19``.  The result depends only
    on the arguments, so any utterance can be regenerated on its own.
    """
    if split not in _SPLIT_CODE:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    if attack is not None and attack not in ATTACKS:
        raise ValueError(f"unknown attack {attack!r}; expected None or one of "
                         f"{', '.join(sorted(ATTACKS))}")
    root = np.random.SeedSequence([int(seed), _SPLIT_CODE[split], 1, int(index)])
    ss_base, ss_attack, ss_post = root.spawn(3)
    rng_base = np.random.default_rng(ss_base)
    rng_post = np.random.default_rng(ss_post)
    # Everything that is not an artefact (length, level, noise floor) is drawn first and
    # from a stream the attacks never touch: both classes share its distribution.
    n = int(round(rng_post.uniform(_MIN_DUR, _MAX_DUR) * SR))
    level_db = rng_post.uniform(*_RMS_DBFS)
    floor_db = rng_post.uniform(-80.0, -68.0)
    floor = rng_post.standard_normal(n)

    x, info = bonafide(rng_base, speaker_voice(seed, speaker), n)
    if attack is not None:
        x = fit_length(ATTACKS[attack](x, info, np.random.default_rng(ss_attack)), n)
    if not np.all(np.isfinite(x)):
        raise FloatingPointError(f"non-finite samples in {split}/{index} ({attack})")
    x = x - x.mean()
    x = x / rms(x) * 10.0 ** (level_db / 20.0)
    x = x + floor * 10.0 ** (floor_db / 20.0)
    peak = np.max(np.abs(x))
    if peak > 0.97:
        x *= 0.97 / peak
    return np.round(x * 32767.0).astype(np.int16)


def _plan_split(seed: int, split: str, n_bona: int, n_spoof: int) -> list[tuple]:
    """(utt_id, speaker number, attack or None) per utterance, in protocol order."""
    rng = seeded_rng(seed, _SPLIT_CODE[split], 0)
    attacks = SPLIT_ATTACKS[split]
    labels = [None] * n_bona + [attacks[i % len(attacks)] for i in range(n_spoof)]
    order = rng.permutation(len(labels))
    labels = [labels[i] for i in order]
    total = len(labels)
    numbers = rng.choice(9_000_000, size=total, replace=False) + 1_000_000
    speakers = _SPEAKERS[split]
    spk = rng.integers(len(speakers), size=total)
    # A few eval ids are not all digits, as in the real corpus (LA_E_A8093886).
    alpha = rng.random(total) < (0.02 if split == "eval" else 0.0)
    plan = []
    for i in range(total):
        utt = f"{_UTT_PREFIX[split]}{'A' if alpha[i] else ''}{numbers[i]}"
        plan.append((utt, speakers[spk[i]], labels[i]))
    return plan


def _asv_lines(seed: int, split: str, plan: list[tuple]) -> list[str]:
    """Synthetic ASV scores: targets ~N(3,1), non-targets ~N(-3,1.2), spoofs in between."""
    rng = seeded_rng(seed, _SPLIT_CODE[split], 2)
    n_target = max(1, sum(1 for _, _, a in plan if a is None))
    lines = [f"bonafide target {float(v)!r}" for v in rng.normal(3.0, 1.0, n_target)]
    lines += [f"bonafide nontarget {float(v)!r}" for v in rng.normal(-3.0, 1.2, 3 * n_target)]
    for attack in SPLIT_ATTACKS[split]:
        count = sum(1 for _, _, a in plan if a == attack)
        mean = seeded_rng(seed, 31, int(attack[1:])).uniform(0.3, 2.5)
        lines += [f"{attack} spoof {float(v)!r}" for v in rng.normal(mean, 1.4, count)]
    return lines


def _write_text(path: Path, lines: list[str], durable: bool = False) -> None:
    with atomic_write(path, "w", encoding="ascii", newline="\n", durable=durable) as fh:
        fh.write("".join(line + "\n" for line in lines))


def _write_flac(path: Path, samples: np.ndarray) -> None:
    buffer = io.BytesIO()  # encoding in memory is much faster than libsndfile's file I/O
    sf.write(buffer, samples, SR, format="FLAC", subtype="PCM_16")
    with atomic_write(path, "wb", durable=False) as fh:
        fh.write(buffer.getvalue())


def _normalise_sizes(sizes: Mapping[str, tuple[int, int]] | None) -> dict[str, list[int]]:
    if sizes is None:
        sizes = DEFAULT_SIZES
    if not isinstance(sizes, Mapping):
        raise TypeError("sizes must be a mapping split -> (n_bonafide, n_spoof)")
    unknown = set(sizes) - set(SPLITS)
    missing = set(SPLITS) - set(sizes)
    if unknown or missing:
        raise ValueError(f"sizes must have exactly the keys {', '.join(SPLITS)} "
                         f"(missing: {sorted(missing)}, unknown: {sorted(unknown)})")
    out = {}
    for split in SPLITS:
        value = sizes[split]
        try:
            n_bona, n_spoof = (int(v) for v in value)
        except (TypeError, ValueError):
            raise ValueError(f"sizes[{split!r}] must be a pair (n_bonafide, n_spoof), "
                             f"got {value!r}") from None
        if n_bona < 1 or n_spoof < 1:
            raise ValueError(f"sizes[{split!r}] needs at least one bona fide and one spoof "
                             f"utterance, got {value!r}")
        out[split] = [n_bona, n_spoof]
    return out


def _config(seed: int, sizes: dict[str, list[int]]) -> dict:
    return {"generator": "aasist.data.mini", "version": GENERATOR_VERSION,
            "seed": int(seed), "sizes": sizes}


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _claim(root: Path, paths: list[LaPaths], config: dict) -> None:
    """Mark ``root`` as a mini corpus of ``config``; refuse a corpus that is not ours.

    Audio of another configuration is deleted so two configurations never mix."""
    owner_file = root / _OWNER_NAME
    ours = {p.protocol.parent for p in paths} | {p.flac_dir.parent for p in paths}
    ours |= {p.asv_scores.parent for p in paths if p.asv_scores is not None}
    if not owner_file.exists() and any(p.exists() for p in ours):
        raise DataError(f"{root} holds an LA corpus that make_mini did not generate; "
                        "choose another destination (nothing there was changed)")
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER_NAME).unlink(missing_ok=True)
    if _read_json(owner_file) != config:
        for p in paths:
            if p.flac_dir.is_dir():
                for old in p.flac_dir.iterdir():
                    old.unlink()
        _write_text(owner_file, [json.dumps(config, sort_keys=True)])


def _write_audio(paths: list[LaPaths], seed: int, plans: dict[str, list[tuple]],
                 progress: bool) -> None:
    """Write every utterance not already there, then drop files of no plan (a torn write)."""
    total = sum(len(p) for p in plans.values())
    with tqdm(total=total, desc="mini corpus", unit="utt", disable=not progress) as bar:
        for split_paths in paths:
            split, flac_dir = split_paths.split, split_paths.flac_dir
            flac_dir.mkdir(parents=True, exist_ok=True)
            wanted = set()
            for index, (utt, speaker, attack) in enumerate(plans[split]):
                path = flac_dir / f"{utt}.flac"
                wanted.add(path.name)
                if not path.exists():  # files are renamed into place only when complete
                    _write_flac(path, synthesize_utterance(seed, split, index, speaker, attack))
                bar.update(1)
            for stale in flac_dir.iterdir():
                if stale.name not in wanted:
                    stale.unlink()


def make_mini(dest: str | os.PathLike, seed: int = 0,
              sizes: Mapping[str, tuple[int, int]] | None = None,
              progress: bool = True) -> Path:
    """Generate the synthetic LA-format corpus under ``dest/LA`` and return that folder.

    ``sizes`` maps each of ``train``, ``dev``, ``eval`` to ``(n_bonafide, n_spoof)``
    (default :data:`DEFAULT_SIZES`: 1,200 / 200 / 700 utterances, 30 % bona fide).  Spoofs
    cycle through the split's attacks (A01-A06 for train and dev, A07-A19 for eval).

    Audio files already written for the same seed and sizes (by an interrupted run) are
    reused; files of a different configuration are deleted first.  Protocols, ASV scores
    and finally the completion marker are (re)written.  Raises DataError rather than touch
    a ``dest/LA`` holding a corpus that make_mini did not make (the real one).
    """
    if not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"the mini corpus seed must be a whole number >= 0, got {seed!r}")
    sizes_n = _normalise_sizes(sizes)
    config = _config(seed, sizes_n)
    root = Path(dest) / "LA"
    paths = [la_paths(root, split) for split in SPLITS]  # resolved once, before anything exists
    _claim(root, paths, config)
    plans = {split: _plan_split(seed, split, *sizes_n[split]) for split in SPLITS}
    _write_audio(paths, seed, plans, progress)
    for split_paths in paths:
        plan = plans[split_paths.split]
        _write_text(split_paths.protocol, [
            f"LA_{speaker:04d} {utt} - {attack or '-'} {'spoof' if attack else 'bonafide'}"
            for utt, speaker, attack in plan])
        if split_paths.asv_scores is not None:
            _write_text(split_paths.asv_scores, _asv_lines(seed, split_paths.split, plan))
    _write_text(root / MARKER_NAME, [json.dumps(config, sort_keys=True)], durable=True)
    return root


def ensure_mini(dest: str | os.PathLike, seed: int = 0,
                sizes: Mapping[str, tuple[int, int]] | None = None,
                progress: bool = True) -> Path:
    """Return ``dest/LA`` at once if a complete corpus with this seed and these sizes is
    there (its marker matches); otherwise generate it with :func:`make_mini`."""
    config = _config(seed, _normalise_sizes(sizes))
    root = Path(dest) / "LA"
    if _read_json(root / MARKER_NAME) == config:
        return root
    return make_mini(dest, seed=seed, sizes=sizes, progress=progress)
