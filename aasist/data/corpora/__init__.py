"""The corpora this package downloads, reads, trains on and evaluates: one module each.

=========  =======================  ==================  ============================
name       corpus                   splits              score file
=========  =======================  ==================  ============================
la2019     ASVspoof 2019 LA         train, dev, eval    ``utt_id source key score``
la2021     ASVspoof 2021 LA         eval                ``trial score``
df2021     ASVspoof 2021 DF         eval                ``trial score``
itw        In-the-Wild              eval                ``trial score``
asvspoof5  ASVspoof 5 (track 1)     train, dev, eval    ``filename<TAB>cm-score``
=========  =======================  ==================  ============================

Each module holds one :class:`~aasist.data.corpora.base.Corpus`: its archives (URL and
published checksum, where one is published), the folder they extract to, where each
split's protocol and audio lie, its protocol reader, its score format, its report and its
metrics from files, and a mini copy of its layout for tests. Adding a corpus is one module
and one line in :data:`CORPORA`.

Checksums: the ASVspoof 2021 keys and every ASVspoof 5 file have MD5s published by the
organisers. For the ASVspoof 2019, 2021 audio and In-the-Wild archives no checksum was
found in a source this project read; :func:`aasist.download.prepare_corpus` then records
each archive's size, MD5 and SHA-256 after the first complete download and checks later
downloads against that record.
"""
from __future__ import annotations

from typing import Any, Mapping

from ...errors import ConfigError
from . import asvspoof2021, asvspoof5, itw, la2019
from .base import Archive, Corpus, PathLike, SplitFiles

CORPORA: dict[str, Corpus] = {c.name: c for c in (
    la2019.CORPUS, asvspoof2021.LA, asvspoof2021.DF, itw.CORPUS, asvspoof5.CORPUS)}

DEFAULT = "la2019"
#: Every trial subset any corpus computes metrics on (``--subset``).
SUBSETS = tuple(dict.fromkeys(s for c in CORPORA.values() for s in c.subsets)) or ("eval",)


def get_corpus(name: str) -> Corpus:
    """The registry entry called ``name``; ConfigError listing the valid names otherwise."""
    try:
        return CORPORA[name]
    except KeyError:
        raise ConfigError(f"unknown corpus {name!r}; valid: {', '.join(CORPORA)}") from None


def metrics_from_files(corpus: str, scores: PathLike, keys: PathLike | None = None,
                       subset: str = "eval", asv_scores: PathLike | None = None) -> dict:
    """`aasist metrics`: ``corpus``'s official report of a score file against its keys
    (see each corpus's ``metrics_from_files``)."""
    return get_corpus(corpus).metrics_from_files(scores, keys, subset=subset, asv_scores=asv_scores)


def format_report(report: Mapping[str, Any]) -> str:
    """A plain-text rendering of any corpus's report (no trailing newline)."""
    return get_corpus(report.get("corpus", DEFAULT)).format_report(report)


__all__ = ["Archive", "CORPORA", "Corpus", "DEFAULT", "SUBSETS", "SplitFiles", "format_report",
           "get_corpus", "metrics_from_files"]
