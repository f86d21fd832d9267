"""A channel-shifted copy of an evaluation split: the same utterances, as users would send them.

From the clone's root::

    python -m experiments.shift --src data/mini/LA --dest data/mini_shifted
    aasist evaluate --config mini --weights RUN/weights/last.pth \
        --set database_path=data/mini_shifted/LA --split eval

``make_shifted_copy("data/mini/LA", "data/mini_shifted")`` writes ``data/mini_shifted/LA/``
in the ASVspoof 2019 LA layout (protocols and ASV scores copied, the split's audio
re-recorded), so any model can be scored on it with the usual command (above).
The same source, split and seed always give the same copy, and running the command again
on a finished copy does nothing.

Every utterance goes through one of `CONDITIONS`, drawn per utterance: a chain of two to
four effects from `aasist.augment` (rooms, noise, band limits, telephone and lossy codecs,
packet loss). The copy depends only on the source audio, ``seed`` and `SHIFT_VERSION`;
``ASVspoof2019_LA_<split>/shift_conditions.txt`` lists the condition of each utterance.

The conditions use the same families of degradation as the robust training recipes (with
their own parameter ranges, and chained rather than drawn one by one), so the copy
measures robustness to these kinds of channel; it is not a sample of every channel a
user may have.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import soundfile as sf
from tqdm.auto import tqdm

from aasist.augment.pipeline import Augmenter
from aasist.cli import run_with_errors
from aasist.config import with_overrides
from aasist.data.audio import SAMPLE_RATE, read_audio
from aasist.data.cache import fingerprint
from aasist.data.protocols import la_paths, read_cm_protocol
from aasist.data.scores import read_cm_scores
from aasist.errors import DataError
from aasist.evaluate import evaluate_weights
from aasist.metrics import compute_eer

SHIFT_VERSION = 1
MARKER = ".shifted_{split}.json"

# Each condition: augment entries applied in order, every one always (p = 1).
CONDITIONS: dict[str, list[dict]] = {
    "phone_call": [
        {"name": "reverb", "rt60_min": 0.2, "rt60_max": 0.5, "drr_min": 4, "drr_max": 12},
        {"name": "noise", "snr_min": 15, "snr_max": 25, "slope_min": -6, "slope_max": -3},
        {"name": "telephone", "codecs": ["gsm", "g721", "mulaw", "alaw"]},
    ],
    "voip": [
        {"name": "noise", "snr_min": 15, "snr_max": 30, "slope_min": -3, "slope_max": 0},
        {"name": "bandlimit", "highpass_min": 80, "highpass_max": 200, "lowpass_min": 5500,
         "lowpass_max": 7000},
        {"name": "codec", "codecs": ["opus"], "compression_min": 0.9, "compression_max": 0.97},
        {"name": "packet_loss", "rate_min": 0.01, "rate_max": 0.05},
    ],
    "voice_message": [
        {"name": "reverb", "rt60_min": 0.3, "rt60_max": 0.6, "drr_min": 2, "drr_max": 10},
        {"name": "codec", "codecs": ["mp3", "vorbis"], "compression_min": 0.8, "compression_max": 0.95},
    ],
    "laptop_room": [
        {"name": "reverb", "rt60_min": 0.5, "rt60_max": 0.9, "drr_min": 0, "drr_max": 6},
        {"name": "noise", "snr_min": 10, "snr_max": 20, "slope_min": -6, "slope_max": -3},
        {"name": "bandlimit", "highpass_min": 100, "highpass_max": 250, "lowpass_min": 4000,
         "lowpass_max": 6500},
    ],
}


def shift_utterance(x: np.ndarray, seed: int, index: int,
                    chains: dict[str, Augmenter]) -> tuple[np.ndarray, str]:
    """(shifted float32 audio, condition name) for utterance ``index``; peaks kept below 1."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(index)]))
    names = sorted(chains)
    name = names[int(rng.integers(len(names)))]
    y = chains[name].whole_chain(np.asarray(x, dtype=np.float32), rng)
    peak = float(np.abs(y).max()) if len(y) else 0.0
    return (y * (0.99 / peak) if peak > 0.99 else y).astype(np.float32), name


def _copy_tables(source: Path, dest: Path) -> None:
    for folder in ("ASVspoof2019_LA_cm_protocols", "ASVspoof2019_LA_asv_scores"):
        if (source / folder).is_dir():
            (dest / folder).mkdir(parents=True, exist_ok=True)
            for item in (source / folder).iterdir():
                if item.is_file():
                    shutil.copy2(item, dest / folder / item.name)


def make_shifted_copy(source: str | os.PathLike, dest: str | os.PathLike, split: str = "eval",
                      seed: int = 0, progress: bool = True) -> Path:
    """Write ``dest/LA``: ``source``'s protocols and ASV scores, and ``split``'s audio
    through a drawn channel condition each. Returns ``dest/LA``; a finished copy with the
    same source (path and content), split, seed and version is recognised and left as it
    is; a missing source file is a DataError before anything is written."""
    src = la_paths(source, split)
    if not src.protocol.is_file():
        raise DataError(f"{src.protocol}: protocol not found; give the LA folder of a corpus "
                        f"(e.g. data/mini/LA from `aasist make-mini`)")
    src_root = src.protocol.parent.parent.resolve()
    root = Path(dest) / "LA"
    if root.resolve() == src_root:
        raise DataError(f"{dest}: the shifted copy must go to another folder than its source")
    records = read_cm_protocol(src.protocol)
    # the source's content too, so a corpus regenerated at the same path is copied again
    # (the decoded cache's digest of the audio files' sizes and times, plus the protocol)
    source_files = {"protocol": hashlib.sha256(src.protocol.read_bytes()).hexdigest(),
                    "audio": fingerprint([r.utt_id for r in records], src.flac_dir)}
    settings = {"source": str(src_root), "split": split, "seed": int(seed), "version": SHIFT_VERSION,
                "conditions": CONDITIONS, "source_files": source_files}
    marker = root / MARKER.format(split=split)
    if marker.is_file() and json.loads(marker.read_text()) == settings:
        return root
    out = la_paths(root, split)
    if (out.flac_dir.is_dir() and any(out.flac_dir.iterdir())
            and not (root / (MARKER.format(split=split) + ".owner")).is_file()):
        raise DataError(f"{out.flac_dir} already holds audio not written by make_shifted_copy; "
                        f"choose another destination (nothing was changed)")
    out.flac_dir.mkdir(parents=True, exist_ok=True)
    (root / (MARKER.format(split=split) + ".owner")).write_text(json.dumps(settings) + "\n")
    _copy_tables(src_root, root)
    chains = {name: Augmenter(entries) for name, entries in CONDITIONS.items()}
    conditions = []
    wanted = {f"{r.utt_id}.flac" for r in records}
    for stale in out.flac_dir.iterdir():   # left by a copy of an earlier version of the source
        if stale.name not in wanted:
            stale.unlink()
    for index, record in enumerate(tqdm(records, desc=f"shifting {split}", disable=not progress,
                                        unit="file")):
        x, rate = read_audio(src.flac_dir / f"{record.utt_id}.flac")
        if rate != SAMPLE_RATE:
            raise DataError(f"{record.utt_id}.flac: {rate} Hz; the shifted copy needs {SAMPLE_RATE} Hz audio")
        y, name = shift_utterance(x, seed, index, chains)
        target = out.flac_dir / f"{record.utt_id}.flac"
        tmp = target.with_suffix(".flac.tmp")
        sf.write(str(tmp), y, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
        tmp.replace(target)
        conditions.append(f"{record.utt_id} {name}\n")
    (out.flac_dir.parent / "shift_conditions.txt").write_text("".join(conditions))
    marker.write_text(json.dumps(settings) + "\n")
    return root


def eer_by_condition(score_path: str | os.PathLike, shifted_root: str | os.PathLike,
                     split: str = "eval") -> dict[str, float]:
    """EER (%) per shift condition of a CM score file scored on a shifted copy."""
    listing = la_paths(shifted_root, split).flac_dir.parent / "shift_conditions.txt"
    if not listing.is_file():
        raise DataError(f"{listing} not found; score a copy made by make_shifted_copy")
    condition = dict(line.split() for line in listing.read_text().splitlines() if line.strip())
    scores = read_cm_scores(score_path)
    out = {}
    for name in sorted(set(condition.values())):
        mine = np.array([condition.get(u) == name for u in scores.utt_ids])
        bona = mine & (np.asarray(scores.keys) == "bonafide")
        spoof = mine & (np.asarray(scores.keys) == "spoof")
        if bona.any() and spoof.any():
            out[name] = 100 * compute_eer(scores.scores[bona], scores.scores[spoof])[0]
    return out


def evaluate_shifted(config: Mapping[str, Any], weights: str | os.PathLike, dest: str | os.PathLike,
                     out_dir: str | os.PathLike, split: str = "eval", seed: int = 0,
                     device: str | None = None, progress: bool = True) -> dict:
    """Score ``weights`` on a shifted copy of ``config``'s ``split``: makes (or reuses) the
    copy under ``dest``, evaluates it into ``out_dir`` and returns the `evaluate_weights`
    report plus ``by_condition`` (EER % per condition) and ``shifted_root``."""
    root = make_shifted_copy(config["database_path"], dest, split=split, seed=seed, progress=progress)
    # cache_dir "": the copy's decoded cache goes beside it, never over the clean split's
    shifted = with_overrides(config, [f"database_path={json.dumps(str(root))}", 'cache_dir=""'])
    report = evaluate_weights(shifted, weights, split=split, out_dir=out_dir, device=device,
                              progress=progress)
    by_condition = eer_by_condition(report["score_file"], root, split)
    return {**report, "by_condition": by_condition, "shifted_root": str(root)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", required=True, help="the LA/ folder of the clean corpus")
    parser.add_argument("--dest", required=True, help="folder that will hold the shifted LA/")
    parser.add_argument("--split", choices=["dev", "eval"], default="eval")
    parser.add_argument("--seed", type=int, default=0, help="seed of the drawn conditions")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    def run() -> None:
        root = make_shifted_copy(args.src, args.dest, split=args.split, seed=args.seed,
                                 progress=not args.quiet)
        print(f"shifted {args.split} split ready at {root}; score it with "
              f"`aasist evaluate --config CONF --weights PTH "
              f"--set database_path={root} --split {args.split}`")

    return run_with_errors(run)




__all__ = ["CONDITIONS", "SHIFT_VERSION", "eer_by_condition", "evaluate_shifted", "make_shifted_copy",
           "main", "shift_utterance"]


if __name__ == "__main__":
    sys.exit(main())
