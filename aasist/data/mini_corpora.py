"""The synthetic mini corpus in the layout of every registered corpus (demos and tests).

:func:`make_mini_corpus` writes a few utterances of the mini corpus's synthetic voice and
vocoders (:func:`aasist.data.mini.synthesize_utterance`) into the exact folders, file
names and protocol formats of ASVspoof 2021 LA/DF (keys and, for LA, the organisers' ASV
trials and scores), In-the-Wild or ASVspoof 5, so that every reader, dataset, download
check and evaluation path runs offline. ``la2019`` is :func:`aasist.data.mini.make_mini`.

The conditions of each corpus (codecs, vocoder types, subsets, attack labels) are assigned
in turn, so each one occurs; they are labels only: the audio is not coded or transmitted.
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Mapping, Optional, Union

import numpy as np
import soundfile as sf

from ..fileio import atomic_write
from .corpora import DF2021_CODECS, DF2021_VOCODERS, LA2021_CODECS, get_corpus
from .mini import make_mini, synthesize_utterance

PathLike = Union[str, "os.PathLike[str]"]

#: (bona fide, spoof) utterances per split.
DEFAULT_SIZES: dict[str, dict[str, tuple[int, int]]] = {
    "la2019": {"train": (4, 8), "dev": (4, 8), "eval": (4, 10)},
    "la2021": {"eval": (6, 12)},
    "df2021": {"eval": (6, 12)},
    "itw": {"eval": (5, 7)},
    "asvspoof5": {"train": (4, 8), "dev": (3, 6), "eval": (5, 10)},
}
_ATTACKS = {"train": [f"A{i:02d}" for i in range(1, 7)], "dev": [f"A{i:02d}" for i in range(1, 7)],
            "eval": [f"A{i:02d}" for i in range(7, 20)]}
_SUBSETS = ("eval", "progress", "hidden")
_SR = 16000


def _plan(seed: int, split: str, n_bona: int, n_spoof: int) -> list[tuple[int, int, Optional[str]]]:
    """(index, speaker, attack or None) per utterance: bona fide first, attacks in turn."""
    rng = np.random.default_rng([seed, len(split), n_bona, n_spoof])
    attacks = _ATTACKS[split]
    labels = [None] * n_bona + [attacks[i % len(attacks)] for i in range(n_spoof)]
    return [(i, int(rng.integers(1, 20)), a) for i, a in enumerate(labels)]


def _audio(path: Path, seed: int, split: str, utt: tuple, fmt: str = "FLAC") -> None:
    if path.is_file():  # written whole by an earlier call (files are renamed into place)
        return
    index, speaker, attack = utt
    buf = io.BytesIO()
    sf.write(buf, synthesize_utterance(seed, split, index, speaker, attack), _SR, format=fmt,
             subtype="PCM_16")
    with atomic_write(path, "wb", durable=False) as fh:
        fh.write(buf.getvalue())


def _lines(path: Path, lines: list[str]) -> None:
    with atomic_write(path) as fh:
        fh.write("".join(line + "\n" for line in lines))


def _nth(values, i: int) -> str:
    """Condition ``i`` in turn (counted within each class, so that each subset and codec
    holds both classes)."""
    values = list(values)
    return values[i % len(values)]


def _make_2021(track: str, root: Path, seed: int, n_bona: int, n_spoof: int) -> None:
    plan = _plan(seed, "eval", n_bona, n_spoof)
    codecs = LA2021_CODECS if track == "LA" else DF2021_CODECS
    cm, asv, asv_scores = [], [], []
    rng = np.random.default_rng(seed)
    for utt in plan:
        index, speaker, attack = utt
        k = index if attack is None else index - n_bona  # position within its class
        utt_id, key = f"{track}_E_{1000000 + index}", "spoof" if attack else "bonafide"
        codec, subset = _nth(codecs, k), _nth(_SUBSETS, k)
        if track == "LA":
            cm.append(f"LA_{speaker:04d} {utt_id} {codec} loc_tx {attack or 'bonafide'} {key} "
                      f"notrim {subset}")
            for asv_key in (["target", "nontarget"] if attack is None else ["spoof"]):
                asv.append(f"LA_{speaker:04d} {utt_id} {codec} loc_tx {attack or 'bonafide'} "
                           f"{asv_key} notrim {subset}")
                mean = {"target": 3.0, "nontarget": -3.0, "spoof": 0.5}[asv_key]
                asv_scores.append(f"LA_{speaker:04d} {utt_id} {rng.normal(mean, 1.0):.4f}")
        else:
            vocoder = _nth(DF2021_VOCODERS, k) if attack else "bonafide"
            cm.append(f"LA_{speaker:04d} {utt_id} {codec} asvspoof {attack or 'bonafide'} {key} "
                      f"notrim {subset} {vocoder} - - - -")
        _audio(root / f"ASVspoof2021_{track}_eval" / "flac" / f"{utt_id}.flac", seed, "eval", utt)
    keys = root / "keys" / track
    _lines(keys / "CM" / "trial_metadata.txt", cm)
    if track == "LA":
        _lines(keys / "ASV" / "trial_metadata.txt", asv)
        _lines(keys / "ASV" / "ASVTorch_Kaldi" / "score.txt", asv_scores)


def _make_itw(root: Path, seed: int, n_bona: int, n_spoof: int) -> None:
    rows = ["file,speaker,label"]
    for utt in _plan(seed, "eval", n_bona, n_spoof):
        index, speaker, attack = utt
        rows.append(f"{index}.wav,Speaker {speaker},{'spoof' if attack else 'bona-fide'}")
        _audio(root / f"{index}.wav", seed, "eval", utt, fmt="WAV")
    _lines(root / "meta.csv", rows)


def _make_asvspoof5(root: Path, seed: int, sizes: Mapping[str, tuple[int, int]]) -> None:
    corpus = get_corpus("asvspoof5")
    codecs = ["-"] + [f"C{i:02d}" for i in range(1, 12)]
    for split, (n_bona, n_spoof) in sizes.items():
        letter = split[0].upper()
        lines = []
        for utt in _plan(seed, split, n_bona, n_spoof):
            index, speaker, attack = utt
            name = f"{letter}_{index:010d}"
            # ASVspoof 5 codes only its eval set; train and dev are uncoded
            codec = _nth(codecs, index) if split == "eval" else "-"
            coded = codec != "-"
            lines.append(f"{letter}_{speaker:04d} {name} {'FM'[index % 2]} {codec} "
                         f"{index % 5 + 1 if coded else '-'} {name if coded else '-'} "
                         f"{'AC1' if attack else '-'} {attack or 'bonafide'} "
                         f"{'spoof' if attack else 'bonafide'} -")
            _audio(root / corpus.audio[split][0] / f"{name}.flac", seed, split, utt)
        _lines(root / corpus.protocols[split][0], lines)


def make_mini_corpus(name: str, dest: PathLike, seed: int = 0,
                     sizes: Mapping[str, tuple[int, int]] | None = None) -> Path:
    """Write the mini corpus in ``name``'s layout under ``dest``; return its root folder.

    ``sizes`` maps each split of the corpus to ``(n_bonafide, n_spoof)`` (default
    :data:`DEFAULT_SIZES`). Audio already written by an earlier call is kept.
    """
    corpus = get_corpus(name)
    sizes = dict(sizes or DEFAULT_SIZES[corpus.name])
    for split in sizes:
        corpus.check_split(split)
    dest = Path(dest)
    if corpus.name == "la2019":
        return make_mini(dest, seed=seed, sizes=sizes, progress=False)
    root = dest / corpus.root
    if corpus.name in ("la2021", "df2021"):
        _make_2021(corpus.name[:2].upper(), root, seed, *sizes["eval"])
    elif corpus.name == "itw":
        _make_itw(root, seed, *sizes["eval"])
    else:
        _make_asvspoof5(root, seed, sizes)
    return root


__all__ = ["DEFAULT_SIZES", "make_mini_corpus"]
