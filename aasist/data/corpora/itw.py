"""In-the-Wild (Müller et al., Interspeech 2022): celebrities' and politicians' speech and
deepfakes of them, from the web; evaluation only.

Layout: ``release_in_the_wild/<n>.wav`` and ``release_in_the_wild/meta.csv`` (header
``file,speaker,label``). The audio is not promised at 16 kHz, so other rates are resampled.
Score file: ``trial score``. Report: the pooled EER (the corpus names no attacks or
conditions).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import ConfigError
from ..protocols import read_in_the_wild
from ..scores import read_trial_scores
from .base import Archive, Corpus, PathLike, common_report, join_file_scores, labels, reported


def report_itw(records, values: np.ndarray) -> dict:
    """In-the-Wild report: the pooled EER."""
    return common_report("itw", np.asarray(values, dtype=np.float64), labels(records))


@dataclass(frozen=True)
class InTheWild(Corpus):
    """In-the-Wild (see the module doc)."""

    def reader(self, path: PathLike) -> list:
        return read_in_the_wild(path)

    def report(self, records, values, *, subset="eval", asv=None) -> dict:
        return report_itw(records, values)

    def metrics_from_files(self, scores, keys=None, subset="eval", asv_scores=None) -> dict:
        """``keys``: ``meta.csv`` or the folder holding it."""
        if keys is None:
            raise ConfigError(f"--corpus {self.name} needs --keys (the trials' labels)")
        records = read_in_the_wild(self.keys_file(keys))
        kept, values = join_file_scores(records, read_trial_scores(scores), keys)
        return reported(scores, lambda: report_itw(kept, values))

    def make_mini(self, dest, seed=0, sizes=None) -> Path:
        from ..mini.layouts import plan, write_audio, write_lines

        n_bona, n_spoof = self._mini_sizes(sizes)["eval"]
        root = Path(dest) / self.root
        rows = ["file,speaker,label"]
        for utt in plan(seed, "eval", n_bona, n_spoof):
            index, speaker, attack = utt
            rows.append(f"{index}.wav,Speaker {speaker},{'spoof' if attack else 'bona-fide'}")
            write_audio(root / f"{index}.wav", seed, "eval", utt, fmt="WAV")
        write_lines(root / "meta.csv", rows)
        return root


CORPUS = InTheWild(
    name="itw", title="In-the-Wild", root="release_in_the_wild", extract_to=".",
    archives=(Archive("release_in_the_wild.zip", "https://huggingface.co/datasets/"
                      "mueller91/In-The-Wild/resolve/main/release_in_the_wild.zip"),),
    splits=("eval",), score_format="trial",
    protocols={"eval": ("meta.csv",)}, audio={"eval": (".",)}, audio_ext=".wav",
    resample=True, mini_sizes={"eval": (5, 7)})

__all__ = ["CORPUS", "InTheWild", "report_itw"]
