"""The corpora this package downloads, reads, trains on and evaluates: one entry each.

Every :class:`Corpus` has the same shape: its archives (URL and published checksum, where
one is published), the folder they extract to, where each split's protocol and audio lie
(its layout), the reader of its protocol, the splits it has and its score-file format.

=========  =======================  ==================  ============================
name       corpus                   splits              score file
=========  =======================  ==================  ============================
la2019     ASVspoof 2019 LA         train, dev, eval    ``utt_id source key score``
la2021     ASVspoof 2021 LA         eval                ``trial score``
df2021     ASVspoof 2021 DF         eval                ``trial score``
itw        In-the-Wild              eval                ``trial score``
asvspoof5  ASVspoof 5 (track 1)     train, dev, eval    ``filename<TAB>cm-score``
=========  =======================  ==================  ============================

Checksums: the ASVspoof 2021 keys and every ASVspoof 5 file have MD5s published by the
organisers (``asvspoof-challenge/2021`` ``eval-package/README.md``; the ASVspoof 5
``README.txt`` on Zenodo). For the ASVspoof 2019, 2021 audio and In-the-Wild archives no
checksum was found in a source this project read; :func:`aasist.download.prepare_corpus`
then records each archive's size, MD5 and SHA-256 after the first complete download (in
the corpus folder's completion marker) and checks later downloads against that record.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

from ..errors import ConfigError, DataError
from .protocols import (la_paths, read_2021_metadata, read_asvspoof5_protocol,
                        read_cm_protocol, read_in_the_wild)

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class Archive:
    """One file to download: saved as ``name``; ``md5``/``sha256`` where published."""

    name: str
    url: str
    md5: Optional[str] = None
    sha256: Optional[str] = None


@dataclass(frozen=True)
class SplitFiles:
    """Where one split lies: its protocol (keys) file and its audio folder."""

    protocol: Path
    audio_dir: Path
    audio_ext: str


@dataclass(frozen=True)
class Corpus:
    """One corpus. ``root`` and ``extract_to`` are folders relative to the download
    destination: the archives extract into ``extract_to`` and the corpus then lies in
    ``root`` (the folder ``--root`` / ``database_path`` names)."""

    name: str
    title: str
    root: str
    extract_to: str
    archives: tuple[Archive, ...]
    splits: tuple[str, ...]
    score_format: str                   # "cm4", "trial" or "asvspoof5"
    protocols: dict[str, tuple[str, ...]]  # split -> candidate protocol paths under root
    audio: dict[str, tuple[str, ...]]      # split -> candidate audio folders under root
    audio_ext: str
    reader: Callable[[Path], list]
    counts: Optional[dict[str, int]] = None  # trials per split in the official release
    resample: bool = False  # bring audio at other rates to 16 kHz (else they are refused)

    def check_split(self, split: str) -> None:
        if split not in self.splits:
            raise ConfigError(f"{self.title} has no {split!r} split; valid: "
                              f"{', '.join(self.splits)}")

    def split_files(self, root: PathLike, split: str) -> SplitFiles:
        """Protocol, audio folder and extension of ``split`` in the corpus at ``root``.

        ``root`` may also be the download destination that holds :attr:`root`. Raises
        DataError naming the places looked in when the protocol is not found.
        """
        self.check_split(split)
        if self.name == "la2019":
            paths = la_paths(root, split)
            return SplitFiles(paths.protocol, paths.flac_dir, ".flac")
        base = resolve_root(self, root)
        protocol = _first_existing(base, self.protocols[split])
        if protocol is None:
            tried = ", ".join(str(base / c) for c in self.protocols[split])
            raise DataError(f"{self.title} {split} protocol not found (looked for {tried}); "
                            f"download it with `python scripts/download_dataset.py --corpus "
                            f"{self.name}` or pass the folder that holds it as --root")
        audio = _first_existing(base, self.audio[split]) or base / self.audio[split][0]
        return SplitFiles(protocol, audio, self.audio_ext)

    def read(self, root: PathLike, split: str) -> list:
        """Every trial of ``split`` (all subsets), in protocol order."""
        return self.reader(self.split_files(root, split).protocol)


def _first_existing(base: Path, candidates: Sequence[str]) -> Optional[Path]:
    return next((base / c for c in candidates if (base / c).exists()), None)


def resolve_root(corpus: Corpus, root: PathLike) -> Path:
    """``root`` itself, or ``root/<corpus.root>`` when ``root`` is the download destination."""
    root = Path(root)
    nested = root / corpus.root
    if nested.is_dir() and not any(_first_existing(root, c) for c in corpus.protocols.values()):
        return nested
    return root


def _read_2021(path: Path) -> list:
    return read_2021_metadata(path, subset=None)


#: ASVspoof 2021 conditions, in the order of the official tables, with the tags they print
#: (codec names as the keys write them -> C1 ...).
LA2021_ATTACKS = tuple(f"A{i:02d}" for i in range(7, 20))
LA2021_CODECS = {"none": "C1", "alaw": "C2", "pstn": "C3", "g722": "C4", "ulaw": "C5",
                 "gsm": "C6", "opus": "C7"}
DF2021_VOCODERS = ("traditional_vocoder", "waveform_concatenation",
                   "neural_vocoder_autoregressive", "neural_vocoder_nonautoregressive", "unknown")
DF2021_CODECS = {"nocodec": "C1", "low_mp3": "C2", "high_mp3": "C3", "low_m4a": "C4",
                 "high_m4a": "C5", "low_ogg": "C6", "high_ogg": "C7", "mp3m4a": "C8",
                 "oggm4a": "C9"}
SUBSETS_2021 = ("eval", "progress", "hidden")

_ZENODO = "https://zenodo.org/records/{record}/files/{name}?download=1"
_KEYS_2021 = "https://www.asvspoof.org/asvspoof2021/{name}"


def _zenodo(record: int, names: Sequence[str], md5s: Sequence[Optional[str]] = ()) -> tuple:
    md5s = list(md5s) or [None] * len(names)
    return tuple(Archive(n, _ZENODO.format(record=record, name=n), md5=m)
                 for n, m in zip(names, md5s))


def _asvspoof5_archives() -> tuple[Archive, ...]:
    # MD5s from the README.txt of Zenodo record 14498691 (section 2).
    parts = {
        "T": ["b0cc86b14826a7701b52aad4f53daf9c", "d05be3f4be7a343fdbdd0ed29fdff2e1",
              "70d1ba4ad75a20aef3dae541fbd321e3", "c9bb56af2cc410d98338d74babcb95c9",
              "a3969816982f3e52300d6147ad796df7"],
        "D": ["df0be44957623991028cce59792beb17", "1e8cd685d89b64502692f1bcf1a13db3",
              "5e0031f08c30e4bdbf0c59f91b2d662b"],
        "E": ["a8c800766f3d4ef87971e2b4f29663e2", "c35064188f54f07c87aba58de22534a0",
              "ed7cbcd1b2847998b72472ddf6b445e3", "626a080e994b05df49c577d7b3dede8d",
              "05f19a5e64fa556714ae1b38eb2ea70b", "2ca2f52a3bbf827f7ec155ecb47e85d6",
              "671200b5de2fc1e74a563b07b057af8f", "eaf885b1299a61eb07f71e82e96dba37",
              "b2625683bf440abae2af901a45542ad9", "c50281c8233af6f3b0899604d21ade44"],
    }
    names, md5s = ["ASVspoof5_protocols.tar.gz"], ["865d0e894ea9f686f0f37e5ae3ae3616"]
    for split, sums in parts.items():
        names += [f"flac_{split}_a{chr(ord('a') + i)}.tar" for i in range(len(sums))]
        md5s += sums
    return _zenodo(14498691, names, md5s)


def _corpus_2021(track: str, audio: tuple[Archive, ...], keys_md5: str) -> Corpus:
    """ASVspoof 2021 LA or DF: the eval audio (Zenodo) and the organisers' keys, whose MD5
    ``asvspoof-challenge/2021`` ``eval-package/README.md`` publishes."""
    keys = f"{track}-keys-full.tar.gz"
    return Corpus(
        name=f"{track.lower()}2021", title=f"ASVspoof 2021 {track}", root=f"ASVspoof2021_{track}",
        extract_to=f"ASVspoof2021_{track}",
        archives=audio + (Archive(keys, _KEYS_2021.format(name=keys), md5=keys_md5),),
        splits=("eval",), score_format="trial",
        protocols={"eval": (f"keys/{track}/CM/trial_metadata.txt",
                            f"{track}/CM/trial_metadata.txt", "CM/trial_metadata.txt")},
        audio={"eval": (f"ASVspoof2021_{track}_eval/flac", "flac")}, audio_ext=".flac",
        reader=_read_2021)


def _asvspoof5_protocols(name: str) -> tuple[str, ...]:
    # The protocol archive's own folder structure is not documented: accept both.
    return (name, f"ASVspoof5_protocols/{name}")


CORPORA: dict[str, Corpus] = {c.name: c for c in (
    Corpus(
        name="la2019", title="ASVspoof 2019 LA", root="LA", extract_to=".",
        archives=(Archive("LA.zip", "https://datashare.ed.ac.uk/bitstream/handle/10283/3336/"
                          "LA.zip?sequence=3&isAllowed=y"),),
        splits=("train", "dev", "eval"), score_format="cm4",
        protocols={}, audio={}, audio_ext=".flac", reader=read_cm_protocol,
        counts={"train": 25380, "dev": 24844, "eval": 71237}),
    _corpus_2021("LA", _zenodo(4837263, ["ASVspoof2021_LA_eval.tar.gz"]),
                 "f052cc2ed276745afa3b5198665d3b26"),
    _corpus_2021("DF", _zenodo(4835108, [f"ASVspoof2021_DF_eval_part0{i}.tar.gz" for i in range(4)]),
                 "dabbc5628de4fcef53036c99ac7ab93a"),
    Corpus(
        name="itw", title="In-the-Wild", root="release_in_the_wild", extract_to=".",
        archives=(Archive("release_in_the_wild.zip", "https://huggingface.co/datasets/"
                          "mueller91/In-The-Wild/resolve/main/release_in_the_wild.zip"),),
        splits=("eval",), score_format="trial",
        protocols={"eval": ("meta.csv",)}, audio={"eval": (".",)}, audio_ext=".wav",
        reader=read_in_the_wild, resample=True),
    Corpus(
        name="asvspoof5", title="ASVspoof 5", root="ASVspoof5", extract_to="ASVspoof5",
        archives=_asvspoof5_archives(), splits=("train", "dev", "eval"),
        score_format="asvspoof5",
        protocols={"train": _asvspoof5_protocols("ASVspoof5.train.tsv"),
                   "dev": _asvspoof5_protocols("ASVspoof5.dev.track_1.tsv"),
                   "eval": _asvspoof5_protocols("ASVspoof5.eval.track_1.tsv")},
        audio={"train": ("flac_T",), "dev": ("flac_D",), "eval": ("flac_E_eval",)},
        audio_ext=".flac", reader=read_asvspoof5_protocol,
        counts={"train": 182357, "dev": 140950, "eval": 680774}),
)}

DEFAULT = "la2019"


def get_corpus(name: str) -> Corpus:
    """The registry entry called ``name``; ConfigError listing the valid names otherwise."""
    try:
        return CORPORA[name]
    except KeyError:
        raise ConfigError(f"unknown corpus {name!r}; valid: {', '.join(CORPORA)}") from None


def cm_keys_file(corpus: Corpus, keys: PathLike) -> Path:
    """The keys (protocol) file of ``corpus``'s eval split: ``keys`` itself when it is a
    file, else looked for in the folder ``keys`` as the organisers' archive lays it out."""
    keys = Path(keys)
    if keys.is_file():
        return keys
    candidates = corpus.protocols.get("eval", ())
    found = _first_existing(keys, candidates) if keys.is_dir() else None
    if found is None:
        tried = ", ".join(str(keys / c) for c in candidates) or str(keys)
        raise DataError(f"{corpus.title} keys not found: {keys} (looked for {tried}); pass the "
                        "keys file itself or the folder the organisers' keys archive extracts to")
    return found


def asv_files_2021(cm_keys: PathLike) -> Optional[tuple[Path, Path]]:
    """The organisers' ASV ``trial_metadata.txt`` and ``score.txt`` next to an ASVspoof 2021
    LA CM ``trial_metadata.txt`` (``<LA>/CM/`` -> ``<LA>/ASV/``), or None if absent."""
    asv_dir = Path(cm_keys).resolve().parent.parent / "ASV"
    metadata = asv_dir / "trial_metadata.txt"
    scores = sorted(asv_dir.glob("*/score.txt"))  # the organisers' ASVTorch_Kaldi/score.txt
    if not metadata.is_file() or not scores:
        return None
    return metadata, scores[0]


__all__ = ["Archive", "CORPORA", "Corpus", "DEFAULT", "DF2021_CODECS", "DF2021_VOCODERS",
           "LA2021_ATTACKS", "LA2021_CODECS", "SUBSETS_2021", "SplitFiles", "asv_files_2021",
           "cm_keys_file", "get_corpus", "resolve_root"]
