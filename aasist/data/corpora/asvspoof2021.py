"""ASVspoof 2021 LA and DF: evaluation-only corpora, with the organisers' keys.

Layout (the Zenodo audio archives and ``{LA,DF}-keys-full.tar.gz`` extracted side by side)::

    ASVspoof2021_{LA,DF}/ASVspoof2021_{LA,DF}_eval/flac/<trial>.flac
    ASVspoof2021_{LA,DF}/keys/{LA,DF}/CM/trial_metadata.txt
    ASVspoof2021_LA/keys/LA/ASV/trial_metadata.txt, ASV/ASVTorch_Kaldi/score.txt

Score file: ``trial score``. Reports on one subset (default ``eval``, the trials behind the
official results; ``progress``, ``hidden``) as ``asvspoof-challenge/2021`` ``eval-package``
computes them: LA, EER and min t-DCF (2021 formulation, with the organisers' ASV scores
per condition) by attack (A07-A19) and codec (C1-C7) and the attack x codec tables; DF, EER
by vocoder type and by compression codec (C1-C9), and the table. The MD5s of the keys are
the ones ``eval-package/README.md`` publishes.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ... import metrics
from ...errors import ConfigError, DataError
from ..protocols import Asv2021Record, read_2021_asv_metadata, read_2021_metadata
from ..scores import read_2021_asv_scores, read_trial_scores
from ..textfile import line_error
from .base import (Archive, Corpus, PathLike, common_report, join_file_scores, labels, or_none,
                   reported)

POOLED = "pooled"
SUBSETS = ("eval", "progress", "hidden")
#: Conditions in the order of the official tables, with the tags they print.
LA_ATTACKS = tuple(f"A{i:02d}" for i in range(7, 20))
LA_CODECS = {"none": "C1", "alaw": "C2", "pstn": "C3", "g722": "C4", "ulaw": "C5",
             "gsm": "C6", "opus": "C7"}
DF_VOCODERS = ("traditional_vocoder", "waveform_concatenation",
               "neural_vocoder_autoregressive", "neural_vocoder_nonautoregressive", "unknown")
DF_CODECS = {"nocodec": "C1", "low_mp3": "C2", "high_mp3": "C3", "low_m4a": "C4",
             "high_m4a": "C5", "low_ogg": "C6", "high_ogg": "C7", "mp3m4a": "C8",
             "oggm4a": "C9"}


@dataclass(frozen=True)
class Asv2021:
    """The organisers' ASV trials of one subset: (M,) key, codec and attack, (M,) scores."""

    keys: np.ndarray
    codecs: np.ndarray
    attacks: np.ndarray
    scores: np.ndarray


def asv_files_2021(cm_keys: PathLike) -> Optional[tuple[Path, Path]]:
    """The organisers' ASV ``trial_metadata.txt`` and ``score.txt`` next to an ASVspoof 2021
    LA CM ``trial_metadata.txt`` (``<LA>/CM/`` -> ``<LA>/ASV/``), or None if absent."""
    asv_dir = Path(cm_keys).resolve().parent.parent / "ASV"
    metadata = asv_dir / "trial_metadata.txt"
    scores = sorted(asv_dir.glob("*/score.txt"))  # the organisers' ASVTorch_Kaldi/score.txt
    if not metadata.is_file() or not scores:
        return None
    return metadata, scores[0]


def load_asv_2021(metadata: PathLike, scores: PathLike, subset: Optional[str] = "eval") -> Asv2021:
    """Pair the ASV ``trial_metadata.txt`` with the ASV score file line by line (as the
    official package does), checking that both lines name the same trial."""
    records: list[Asv2021Record] = read_2021_asv_metadata(metadata)
    rows = read_2021_asv_scores(scores)
    if len(rows) != len(records):
        raise DataError(f"{scores}: {len(rows)} scores for the {len(records)} trials of "
                        f"{metadata}; use the score file that came with that metadata")
    for record, (trial, _, number) in zip(records, rows):
        if trial != record.utt_id:
            raise line_error(scores, number, f"trial {trial!r} where {metadata} has "
                             f"{record.utt_id!r}", "use the score file that came with the metadata")
    keep = [i for i, r in enumerate(records) if subset is None or r.subset == subset]
    return Asv2021(np.array([records[i].key for i in keep]),
                   np.array([records[i].codec for i in keep]),
                   np.array([records[i].attack for i in keep]),
                   np.array([rows[i][1] for i in keep], dtype=np.float64))


def _condition_tables(values: np.ndarray, is_bona: np.ndarray, rows_of: np.ndarray,
                      cols_of: np.ndarray, row_names: Sequence[str], col_names: Sequence[str],
                      asv: Optional[Asv2021], asv_cols_of: Optional[np.ndarray]) -> tuple[dict, dict]:
    """EER (%) and min t-DCF tables ``{row: {col: value}}``, ``pooled`` row and column
    included. Rows (attack, vocoder) select spoofs only; columns (codec) select both
    classes, and the ASV trials too, as the official tables do."""
    eer: dict = {r: {} for r in (*row_names, POOLED)}
    tdcf: dict = {r: {} for r in (*row_names, POOLED)}
    everything = np.ones(values.shape, dtype=bool)
    for col in (*col_names, POOLED):
        in_col = everything if col == POOLED else cols_of == col
        bona = values[is_bona & in_col]
        if asv is not None:
            asv_col = np.ones(asv.keys.shape, bool) if col == POOLED else asv_cols_of == col
            tar = asv.scores[(asv.keys == "target") & asv_col]
            non = asv.scores[(asv.keys == "nontarget") & asv_col]
        for row in (*row_names, POOLED):
            in_row = everything if row == POOLED else rows_of == row
            spoof = values[~is_bona & in_row & in_col]
            eer[row][col] = or_none(metrics.compute_eer, bona, spoof)
            if eer[row][col] is not None:
                eer[row][col] *= 100
            tdcf[row][col] = None
            if asv is not None:
                asv_row = np.ones(asv.keys.shape, bool) if row == POOLED else asv.attacks == row
                spf = asv.scores[(asv.keys == "spoof") & asv_row & asv_col]
                tdcf[row][col] = or_none(metrics.min_tdcf_2021, bona, spoof, tar, non, spf)
    return eer, tdcf


def report_2021(track: str, records: Sequence, values: np.ndarray, subset: str = "eval",
                asv: Optional[Asv2021] = None) -> dict:
    """ASVspoof 2021 LA (``track="LA"``) or DF report of the trials of ``subset``.

    ``records`` are :class:`~aasist.data.protocols.Trial2021Record` (any subsets),
    ``values`` (N,) their scores; ``asv`` (LA only) the organisers' ASV trials of the same
    subset, for the min t-DCF (None: no t-DCF).
    """
    if subset not in SUBSETS:
        raise ConfigError(f"unknown ASVspoof 2021 subset {subset!r}; valid: {', '.join(SUBSETS)}")
    keep = np.array([r.subset == subset for r in records], dtype=bool)
    if not keep.any():
        raise DataError(f"no trial of the keys belongs to the {subset!r} subset; choose "
                        f"another --subset ({', '.join(SUBSETS)})")
    kept = [r for r, k in zip(records, keep) if k]
    values, is_bona = np.asarray(values, dtype=np.float64)[keep], labels(kept)
    if track == "LA":
        rows, row_names, row_key, codecs = [r.attack for r in kept], LA_ATTACKS, "attack", LA_CODECS
    else:
        rows, row_names, row_key, codecs = [r.vocoder for r in kept], DF_VOCODERS, "vocoder", DF_CODECS
        asv = None  # DF has no t-DCF
    cols = np.array([codecs.get(r.codec, "") for r in kept])
    asv_cols = None if asv is None else np.array([codecs.get(c, "") for c in asv.codecs])
    eer, tdcf = _condition_tables(values, is_bona, np.array(rows), cols, row_names,
                                  tuple(codecs.values()), asv, asv_cols)
    report = common_report(f"{track.lower()}2021", values, is_bona)
    report.update(subset=subset, eer_percent=eer[POOLED][POOLED],
                  eer_percent_by_codec={c: eer[POOLED][c] for c in codecs.values()},
                  **{f"eer_percent_by_{row_key}": {r: eer[r][POOLED] for r in row_names}},
                  eer_percent_table=eer)
    if track == "LA":
        report["per_attack_eer_percent"] = report["eer_percent_by_attack"]
        if asv is not None:
            report.update(min_tdcf=tdcf[POOLED][POOLED],
                          min_tdcf_by_attack={r: tdcf[r][POOLED] for r in row_names},
                          min_tdcf_by_codec={c: tdcf[POOLED][c] for c in codecs.values()},
                          min_tdcf_table=tdcf)
    return report


@dataclass(frozen=True)
class ASVspoof2021(Corpus):
    """ASVspoof 2021 LA or DF (see the module doc); ``track`` is ``"LA"`` or ``"DF"``."""

    track: str = "LA"

    def reader(self, path: PathLike) -> list:
        return read_2021_metadata(path, track=self.track, subset=None)

    def asv_for(self, root, split, subset="eval") -> Optional[Asv2021]:
        if self.track != "LA":
            return None
        found = asv_files_2021(self.split_files(root, split).protocol)
        return None if found is None else load_asv_2021(*found, subset=subset)

    def report(self, records, values, *, subset="eval", asv=None) -> dict:
        return report_2021(self.track, records, values, subset, asv)

    def metrics_from_files(self, scores, keys=None, subset="eval", asv_scores=None) -> dict:
        """``keys``: the CM ``trial_metadata.txt`` or the keys folder holding it; LA also
        reads the organisers' ASV files next to it (``asv_scores`` replaces their score file)."""
        if keys is None:
            raise ConfigError(f"--corpus {self.name} needs --keys (the trials' labels)")
        cm_keys = self.keys_file(keys)
        records = read_2021_metadata(cm_keys, track=self.track, subset=None)
        kept, values = join_file_scores(records, read_trial_scores(scores), cm_keys,
                                        lambda r: r.subset == subset)
        asv = None
        if self.track == "LA":
            found = asv_files_2021(cm_keys)
            if found is not None or asv_scores is not None:
                if found is None:
                    raise DataError(f"no ASV trial_metadata.txt next to {cm_keys} (in ../../ASV/); "
                                    "pass the keys folder as the organisers ship it")
                asv = load_asv_2021(found[0], asv_scores or found[1], subset)
        return reported(scores, lambda: report_2021(self.track, kept, values, subset, asv))

    def make_mini(self, dest, seed=0, sizes=None) -> Path:
        from ..mini.layouts import nth, plan, write_audio, write_lines

        n_bona, n_spoof = self._mini_sizes(sizes)["eval"]
        root, track = Path(dest) / self.root, self.track
        codecs = LA_CODECS if track == "LA" else DF_CODECS
        cm, asv, asv_scores = [], [], []
        rng = np.random.default_rng(seed)
        for utt in plan(seed, "eval", n_bona, n_spoof):
            index, speaker, attack = utt
            k = index if attack is None else index - n_bona  # position within its class
            utt_id, key = f"{track}_E_{1000000 + index}", "spoof" if attack else "bonafide"
            codec, subset = nth(codecs, k), nth(SUBSETS, k)
            if track == "LA":
                cm.append(f"LA_{speaker:04d} {utt_id} {codec} loc_tx {attack or 'bonafide'} {key} "
                          f"notrim {subset}")
                for asv_key in (["target", "nontarget"] if attack is None else ["spoof"]):
                    asv.append(f"LA_{speaker:04d} {utt_id} {codec} loc_tx {attack or 'bonafide'} "
                               f"{asv_key} notrim {subset}")
                    mean = {"target": 3.0, "nontarget": -3.0, "spoof": 0.5}[asv_key]
                    asv_scores.append(f"LA_{speaker:04d} {utt_id} {rng.normal(mean, 1.0):.4f}")
            else:
                vocoder = nth(DF_VOCODERS, k) if attack else "bonafide"
                cm.append(f"LA_{speaker:04d} {utt_id} {codec} asvspoof {attack or 'bonafide'} "
                          f"{key} notrim {subset} {vocoder} - - - -")
            write_audio(root / self.audio["eval"][0] / f"{utt_id}.flac", seed, "eval", utt)
        keys = root / "keys" / track
        write_lines(keys / "CM" / "trial_metadata.txt", cm)
        if track == "LA":
            write_lines(keys / "ASV" / "trial_metadata.txt", asv)
            write_lines(keys / "ASV" / "ASVTorch_Kaldi" / "score.txt", asv_scores)
        return root


_ZENODO = "https://zenodo.org/records/{record}/files/{name}?download=1"
_KEYS = "https://www.asvspoof.org/asvspoof2021/{name}"


def _corpus(track: str, record: int, audio: Sequence[str], keys_md5: str) -> ASVspoof2021:
    keys = f"{track}-keys-full.tar.gz"
    return ASVspoof2021(
        name=f"{track.lower()}2021", title=f"ASVspoof 2021 {track}", root=f"ASVspoof2021_{track}",
        extract_to=f"ASVspoof2021_{track}", track=track,
        archives=tuple(Archive(n, _ZENODO.format(record=record, name=n)) for n in audio)
        + (Archive(keys, _KEYS.format(name=keys), md5=keys_md5),),
        splits=("eval",), score_format="trial",
        protocols={"eval": (f"keys/{track}/CM/trial_metadata.txt",
                            f"{track}/CM/trial_metadata.txt", "CM/trial_metadata.txt")},
        audio={"eval": (f"ASVspoof2021_{track}_eval/flac", "flac")}, audio_ext=".flac",
        subsets=SUBSETS, mini_sizes={"eval": (6, 12)})


LA = _corpus("LA", 4837263, ["ASVspoof2021_LA_eval.tar.gz"], "f052cc2ed276745afa3b5198665d3b26")
DF = _corpus("DF", 4835108, [f"ASVspoof2021_DF_eval_part0{i}.tar.gz" for i in range(4)],
             "dabbc5628de4fcef53036c99ac7ab93a")

__all__ = ["ASVspoof2021", "Asv2021", "DF", "DF_CODECS", "DF_VOCODERS", "LA", "LA_ATTACKS",
           "LA_CODECS", "SUBSETS", "asv_files_2021", "load_asv_2021", "report_2021"]
