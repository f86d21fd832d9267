"""Score a split of any registered corpus, write its official score file, compute metrics.

The corpus is the config's ``corpus`` key (see :mod:`aasist.data.corpora`), found under
``database_path``; each trial's first window is scored (the official rule, see
:mod:`aasist.inference`). Scores are joined to the protocol by utterance id, never by
position (the official code zips DataLoader order against protocol lines and relies on
them agreeing). ASVspoof 2019 LA dev metrics use the dev ASV scores; the official training
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

from . import plots
from .config import loader_workers
from .data.cache import DecodedCache
from .data.corpora import DEFAULT, Corpus, format_report, get_corpus
from .data.datasets import EvalDataset
from .errors import DataError
from .fileio import atomic_write
from .inference import Engine, scoring_window
from .runtime import resolve_device

DOWNLOAD_HINT = ("download the dataset with `aasist download --corpus la2019 --dest .` "
                 "(or set database_path), or run the mini demo with `--config mini`")


def corpus_of(config: Mapping[str, Any]) -> Corpus:
    """The registry entry the config's ``corpus`` key names (default ``la2019``)."""
    return get_corpus(config.get("corpus", DEFAULT))


def load_split(config: Mapping[str, Any], split: str) -> tuple[list, Any]:
    """Protocol records and audio source (folder or decoded cache) of a split."""
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
        source = DecodedCache.build_or_load(records, files.audio_dir, cache_dir / corpus.tag(split),
                                            audio_ext=files.audio_ext)
    return records, source


def eval_loader(records, source, config: Mapping[str, Any], device: torch.device) -> DataLoader:
    """Batched, ordered loader over first-window crops (official evaluation input) of
    :func:`aasist.inference.scoring_window` samples."""
    corpus = corpus_of(config)
    dataset = EvalDataset(records, source, scoring_window(config["model_config"]),
                          audio_ext=corpus.audio_ext, resample=corpus.resample)
    return DataLoader(dataset, batch_size=config["batch_size"], shuffle=False,
                      num_workers=loader_workers(config),
                      pin_memory=device.type == "cuda", persistent_workers=False)


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


def evaluate_split(model: torch.nn.Module, config: Mapping[str, Any], split: str, device: torch.device,
                   score_path: Path | None = None, amp: bool = False, progress: bool = True,
                   figures_dir: Path | None = None, figure_prefix: str = "",
                   subset: str = "eval") -> dict:
    """Score one split; optionally write its score file (in the corpus's official format)
    and figures. Returns the corpus report (``subset``: the ASVspoof 2021 subset)."""
    corpus = corpus_of(config)
    records, source = load_split(config, split)
    engine = Engine(model, scoring_window(config["model_config"]), amp=amp)
    scores = engine.score_loader(eval_loader(records, source, config, device), progress,
                                 desc=f"scoring {split}")
    values = join_scores(records, scores)
    if score_path is not None:
        corpus.write_scores(score_path, records, values)
    report = corpus.report(records, values, subset=subset,
                           asv=corpus.asv_for(config["database_path"], split, subset))
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
    """`aasist evaluate`: weights -> score file, metrics.json, figures, text report.

    The corpus is ``config["corpus"]`` under ``config["database_path"]``; every trial of
    ``split`` is scored (so the score file is a complete official submission) and the
    metrics are computed on ``subset`` where the corpus has subsets (ASVspoof 2021).
    """
    from .pretrained import build_model, load_weights

    corpus = corpus_of(config)
    corpus.check_split(split)
    dev = resolve_device(device)
    out = Path(out_dir or f"runs/evaluate-{Path(weights).stem}-{corpus.tag(split)}")
    model = load_weights(build_model(config["model_config"], dev), weights)
    score_path = out / f"{split}_scores{corpus.score_suffix}"
    report = evaluate_split(model, config, split, dev, score_path=score_path,
                            amp=amp, progress=progress, figures_dir=out, subset=subset)
    report = {"split": split, "weights": str(weights), "score_file": str(score_path), **report}
    with atomic_write(out / "metrics.json") as fh:
        fh.write(json.dumps(report, indent=2) + "\n")
    report["text"] = format_report(report) + f"\n\nwritten to {out}/"
    return report
