"""ASVspoof 5 (track 1, stand-alone countermeasures): train, dev and eval.

Layout (Zenodo record 14498691 extracted into ``ASVspoof5/``): ``flac_T``, ``flac_D``,
``flac_E_eval`` audio folders and ``ASVspoof5.{train,dev.track_1,eval.track_1}.tsv``
protocols (at the top or under ``ASVspoof5_protocols/``). Score file: tab separated with
the header ``filename	cm-score``. Report, as ``asvspoof-challenge/asvspoof5``
``evaluation-package``: min DCF (primary), actual DCF, Cllr, EER; by attack and by codec
when the keys are the full protocol. Every archive's MD5 is the one the organisers'
``README.txt`` publishes.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ... import metrics
from ...errors import ConfigError
from ..protocols import read_asvspoof5_protocol
from ..scores import read_asvspoof5_scores
from .base import (Archive, Corpus, PathLike, common_report, join_file_scores, labels, or_none,
                   reported)

_DCF_METRICS: dict[str, Callable] = {
    "min_dcf": metrics.min_dcf,
    "act_dcf": metrics.act_dcf,
    "cllr_bits": metrics.cllr,
    "eer_percent": lambda b, s: 100 * metrics.compute_eer(b, s)[0],
}


def report_asvspoof5(records, values: np.ndarray) -> dict:
    """ASVspoof 5 track 1 report: min DCF, actual DCF, Cllr and EER, pooled, and by attack
    (pooled over codecs) and codec (pooled over attacks) when the records carry them."""
    values = np.asarray(values, dtype=np.float64)
    is_bona = labels(records)
    report = common_report("asvspoof5", values, is_bona)
    bona, spoof = values[is_bona], values[~is_bona]
    for name, func in _DCF_METRICS.items():
        report[name] = or_none(func, bona, spoof)
    attacks = np.array([r.attack for r in records], dtype=object)
    codecs = np.array([r.codec for r in records], dtype=object)
    by_attack = sorted({a for a, b in zip(attacks, is_bona) if not b and a is not None})
    by_codec = sorted({c for c in codecs if c is not None})
    for name, func in _DCF_METRICS.items():
        report[f"{name}_by_attack"] = {a: or_none(func, bona, values[~is_bona & (attacks == a)])
                                       for a in by_attack}
        report[f"{name}_by_codec"] = {c: or_none(func, values[is_bona & (codecs == c)],
                                                 values[~is_bona & (codecs == c)])
                                      for c in by_codec}
    report["per_attack_eer_percent"] = report["eer_percent_by_attack"]
    return report


@dataclass(frozen=True)
class ASVspoof5(Corpus):
    """ASVspoof 5 (see the module doc)."""

    def reader(self, path: PathLike) -> list:
        return read_asvspoof5_protocol(path)

    def report(self, records, values, *, subset="eval", asv=None) -> dict:
        return report_asvspoof5(records, values)

    def metrics_from_files(self, scores, keys=None, subset="eval", asv_scores=None) -> dict:
        """``keys``: the organisers' 2-column key or the full protocol."""
        if keys is None:
            raise ConfigError(f"--corpus {self.name} needs --keys (the trials' labels)")
        records = read_asvspoof5_protocol(keys)
        kept, values = join_file_scores(records, read_asvspoof5_scores(scores), keys)
        return reported(scores, lambda: report_asvspoof5(kept, values))

    def make_mini(self, dest, seed=0, sizes=None) -> Path:
        from ..mini.layouts import nth, plan, write_audio, write_lines

        root = Path(dest) / self.root
        codecs = ["-"] + [f"C{i:02d}" for i in range(1, 12)]
        for split, (n_bona, n_spoof) in self._mini_sizes(sizes).items():
            letter = split[0].upper()
            lines = []
            for utt in plan(seed, split, n_bona, n_spoof):
                index, speaker, attack = utt
                name = f"{letter}_{index:010d}"
                # ASVspoof 5 codes only its eval set; train and dev are uncoded
                codec = nth(codecs, index) if split == "eval" else "-"
                coded = codec != "-"
                lines.append(f"{letter}_{speaker:04d} {name} {'FM'[index % 2]} {codec} "
                             f"{index % 5 + 1 if coded else '-'} {name if coded else '-'} "
                             f"{'AC1' if attack else '-'} {attack or 'bonafide'} "
                             f"{'spoof' if attack else 'bonafide'} -")
                write_audio(root / self.audio[split][0] / f"{name}.flac", seed, split, utt)
            write_lines(root / self.protocols[split][0], lines)
        return root


def _archives() -> tuple[Archive, ...]:
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
    url = "https://zenodo.org/records/14498691/files/{name}?download=1"
    return tuple(Archive(n, url.format(name=n), md5=m) for n, m in zip(names, md5s))


def _protocols(name: str) -> tuple[str, ...]:
    # The protocol archive's own folder structure is not documented: accept both.
    return (name, f"ASVspoof5_protocols/{name}")


CORPUS = ASVspoof5(
    name="asvspoof5", title="ASVspoof 5", root="ASVspoof5", extract_to="ASVspoof5",
    archives=_archives(), splits=("train", "dev", "eval"), score_format="asvspoof5",
    protocols={"train": _protocols("ASVspoof5.train.tsv"),
               "dev": _protocols("ASVspoof5.dev.track_1.tsv"),
               "eval": _protocols("ASVspoof5.eval.track_1.tsv")},
    audio={"train": ("flac_T",), "dev": ("flac_D",), "eval": ("flac_E_eval",)},
    audio_ext=".flac", counts={"train": 182357, "dev": 140950, "eval": 680774},
    mini_sizes={"train": (4, 8), "dev": (3, 6), "eval": (5, 10)})

__all__ = ["ASVspoof5", "CORPUS", "report_asvspoof5"]
