"""Score a split of any registered corpus, write its official score file, compute metrics.

The corpus is the config's ``corpus`` key (see :mod:`aasist.data.corpora`), found under
``database_path``. Scores are joined to the protocol by utterance id, never by position
(the official code zips DataLoader order against protocol lines and relies on them
agreeing). ASVspoof 2019 LA dev metrics use the dev ASV scores; the official training
script uses the eval ASV file for dev, which we do not copy. ASVspoof 2021 LA metrics
use the organisers' ASV scores shipped with the keys.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from . import plots
from .config import loader_workers, scoring_samples
from .data.cache import DecodedCache
from .data.corpora import DEFAULT, Corpus, asv_files_2021, get_corpus
from .data.datasets import EvalDataset
from .data.protocols import la_paths
from .data.scores import write_scores
from .errors import DataError
from .fileio import atomic_write
from .reports import corpus_report, format_corpus_report, load_asv_2021
from .runtime import autocast, resolve_device

DOWNLOAD_HINT = ("download the dataset with `python scripts/download_dataset.py --dest .` "
                 "(or set database_path), or run the mini demo with config/mini.conf")


def corpus_of(config: Mapping[str, Any]) -> Corpus:
    """The registry entry the config's ``corpus`` key names (default ``la2019``)."""
    return get_corpus(config.get("corpus", DEFAULT))


def load_split(config: Mapping[str, Any], split: str) -> tuple[list, Any, Path | None]:
    """Protocol records, audio source (folder or decoded cache) and, for ASVspoof 2019 LA,
    the ASV score path (None elsewhere, or when the file is absent) of a split."""
    corpus, root = corpus_of(config), config["database_path"]
    files = corpus.split_files(root, split)
    if not files.protocol.is_file():
        raise DataError(f"{files.protocol}: {corpus.title} {split} protocol not found; {DOWNLOAD_HINT}")
    records = corpus.reader(files.protocol)
    if split == "dev" and config.get("max_dev_items"):
        records = records[:config["max_dev_items"]]
    source: Any = files.audio_dir
    if config.get("use_cache"):
        cache_dir = Path(config.get("cache_dir") or Path(root) / ".cache")
        name = split if corpus.name == DEFAULT else f"{corpus.name}-{split}"
        source = DecodedCache.build_or_load(records, files.audio_dir, cache_dir / name,
                                            audio_ext=files.audio_ext)
    asv = None
    if corpus.name == "la2019":
        asv = la_paths(root, split).asv_scores
        asv = asv if asv is not None and asv.is_file() else None
    return records, source, asv


def eval_loader(records, source, config: Mapping[str, Any], device: torch.device) -> DataLoader:
    """Batched, ordered loader over first-window crops (official evaluation input) of
    :func:`aasist.config.scoring_samples` samples."""
    corpus = corpus_of(config)
    dataset = EvalDataset(records, source, scoring_samples(config["model_config"]),
                          audio_ext=corpus.audio_ext, resample=corpus.resample)
    return DataLoader(dataset, batch_size=config["batch_size"], shuffle=False,
                      num_workers=loader_workers(config),
                      pin_memory=device.type == "cuda", persistent_workers=False)


@torch.inference_mode()
def score_loader(model: torch.nn.Module, loader: DataLoader, device: torch.device,
                 amp: bool = False, progress: bool = True, desc: str = "scoring") -> dict[str, float]:
    """utt_id -> bona fide logit (column 1) for every item of an (x, utt_id) loader."""
    model.eval()
    scores: dict[str, float] = {}
    for x, utt_ids in tqdm(loader, desc=desc, disable=not progress, leave=False, unit="batch"):
        with autocast(device, amp):
            logits = model(x.to(device, non_blocking=True))
        for utt_id, value in zip(utt_ids, logits[:, 1].float().cpu().tolist()):
            scores[utt_id] = value
    return scores


def join_scores(records: Sequence[Any], scores: Mapping[str, float]) -> np.ndarray:
    """Scores in protocol order, matched by utterance id; missing or extra ids are an error."""
    wanted = [r.utt_id for r in records]
    missing = [u for u in wanted if u not in scores]
    extra = set(scores) - set(wanted)
    if missing or extra:
        detail = []
        if missing:
            detail.append(f"{len(missing)} protocol utterances have no score (e.g. {missing[0]})")
        if extra:
            detail.append(f"{len(extra)} scores are not in the protocol (e.g. {sorted(extra)[0]})")
        raise DataError("; ".join(detail) + "; score the protocol's utterances exactly")
    return np.array([scores[u] for u in wanted], dtype=np.float64)


def save_figures(records: Sequence[Any], values: np.ndarray, report: Mapping[str, Any],
                 out_dir: Path, prefix: str = "") -> list[Path]:
    """DET curve, score histograms (per attack where the corpus names attacks) and
    per-attack EER bars as PNG files, of the trials the report covers (its subset)."""
    if report.get("subset"):
        keep = np.array([r.subset == report["subset"] for r in records], dtype=bool)
        records, values = [r for r, k in zip(records, keep) if k], values[keep]
    is_bona = np.array([r.key == "bonafide" for r in records])
    attacks = np.array([r.attack for r in records], dtype=object)
    per_attack = {a: v for a, v in report["per_attack_eer_percent"].items() if v is not None}
    by_attack = {a: values[(attacks == a) & ~is_bona] for a in per_attack} or values[~is_bona]
    paths = [
        plots.plot_det(values[is_bona], values[~is_bona], out_dir / f"{prefix}det_curve.png"),
        plots.plot_score_histograms(values[is_bona], by_attack, out_dir / f"{prefix}score_histograms.png"),
    ]
    if per_attack:
        paths.append(plots.plot_per_attack_eer(per_attack, out_dir / f"{prefix}per_attack_eer.png",
                                               pooled_eer_percent=report["eer_percent"]))
    return paths


def _asv_for(config: Mapping[str, Any], split: str, la2019_asv: Path | None, subset: str):
    """The ASV scores a corpus report takes (see :func:`aasist.reports.corpus_report`)."""
    corpus = corpus_of(config)
    if corpus.name == "la2021":
        found = asv_files_2021(corpus.split_files(config["database_path"], split).protocol)
        return None if found is None else load_asv_2021(*found, subset=subset)
    return la2019_asv


def evaluate_split(model: torch.nn.Module, config: Mapping[str, Any], split: str, device: torch.device,
                   score_path: Path | None = None, amp: bool = False, progress: bool = True,
                   figures_dir: Path | None = None, figure_prefix: str = "",
                   subset: str = "eval") -> dict:
    """Score one split; optionally write its score file (in the corpus's official format)
    and figures. Returns the corpus report (``subset``: the ASVspoof 2021 subset)."""
    corpus = corpus_of(config)
    records, source, asv = load_split(config, split)
    scores = score_loader(model, eval_loader(records, source, config, device), device, amp,
                          progress, desc=f"scoring {split}")
    values = join_scores(records, scores)
    if score_path is not None:
        write_scores(corpus.score_format, score_path, records, values)
    report = corpus_report(corpus.name, records, values, subset=subset,
                           asv=_asv_for(config, split, asv, subset))
    if figures_dir is not None:
        save_figures(records, values, report, figures_dir, figure_prefix)
    return report


def split_report(run_metrics: Mapping[str, Any], split: str = "eval") -> dict:
    """One split's report out of a training run's metrics.json (keys ``<split>_*``)."""
    prefix = f"{split}_"
    report = {k[len(prefix):]: v for k, v in run_metrics.items() if k.startswith(prefix)}
    if not report:
        raise DataError(f"the run's metrics hold no '{split}' results; add '{split}' to the "
                        f"config key eval_splits, or evaluate the run's weights on it")
    return report


def evaluate_weights(config: Mapping[str, Any], weights: str | Path, split: str = "eval",
                     out_dir: str | Path | None = None, device: str | None = None,
                     amp: bool = False, progress: bool = True, subset: str = "eval") -> dict:
    """`python -m aasist evaluate`: weights -> score file, metrics.json, figures, text report.

    The corpus is ``config["corpus"]`` under ``config["database_path"]``; every trial of
    ``split`` is scored (so the score file is a complete official submission) and the
    metrics are computed on ``subset`` where the corpus has subsets (ASVspoof 2021).
    """
    from .model import build_model, load_weights

    corpus = corpus_of(config)
    corpus.check_split(split)
    dev = resolve_device(device)
    tag = split if corpus.name == DEFAULT else f"{corpus.name}-{split}"
    out = Path(out_dir or f"runs/evaluate-{Path(weights).stem}-{tag}")
    model = load_weights(build_model(config["model_config"]).to(dev), weights)
    suffix = ".tsv" if corpus.score_format == "asvspoof5" else ".txt"
    score_path = out / f"{split}_scores{suffix}"
    report = evaluate_split(model, config, split, dev, score_path=score_path,
                            amp=amp, progress=progress, figures_dir=out, subset=subset)
    report = {"split": split, "weights": str(weights), "score_file": str(score_path), **report}
    with atomic_write(out / "metrics.json") as fh:
        fh.write(json.dumps(report, indent=2) + "\n")
    report["text"] = format_corpus_report(report) + f"\n\nwritten to {out}/"
    return report
