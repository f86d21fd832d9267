"""Score a split of an LA-format corpus, write the official score file, compute metrics.

Scores are joined to the protocol by utterance id, never by position (the official code
zips DataLoader order against protocol lines and relies on them agreeing). Dev metrics
use the dev ASV scores; the official training script uses the eval ASV file for dev,
which we do not copy.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from . import metrics, plots
from .config import loader_workers
from .data.cache import DecodedCache
from .data.datasets import EvalDataset
from .data.protocols import CmRecord, la_paths, read_cm_protocol
from .data.scores import read_asv_scores, write_cm_scores
from .errors import DataError
from .fileio import atomic_write
from .runtime import autocast, resolve_device

DOWNLOAD_HINT = ("download the dataset with `python scripts/download_dataset.py --dest .` "
                 "(or set database_path), or run the mini demo with config/mini.conf")


def load_split(config: Mapping[str, Any], split: str) -> tuple[list[CmRecord], Any, Path | None]:
    """Protocol records, audio source (folder or decoded cache) and ASV score path of a split."""
    paths = la_paths(config["database_path"], split)
    if not paths.protocol.is_file():
        raise DataError(f"{paths.protocol}: ASVspoof 2019 LA {split} protocol not found; {DOWNLOAD_HINT}")
    records = read_cm_protocol(paths.protocol)
    source: Any = paths.flac_dir
    if config.get("use_cache"):
        cache_dir = Path(config.get("cache_dir") or Path(config["database_path"]) / ".cache")
        source = DecodedCache.build_or_load(records, paths.flac_dir, cache_dir / split)
    asv = paths.asv_scores if paths.asv_scores is not None and paths.asv_scores.is_file() else None
    return records, source, asv


def eval_loader(records, source, config: Mapping[str, Any], device: torch.device) -> DataLoader:
    """Batched, ordered loader over first-window crops (official evaluation input)."""
    dataset = EvalDataset(records, source, config["model_config"]["nb_samp"])
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


def join_scores(records: Sequence[CmRecord], scores: Mapping[str, float]) -> np.ndarray:
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


def report_for(records: Sequence[CmRecord], values: np.ndarray, asv_path: Path | None) -> dict:
    """Metrics report (EER, t-DCF when ASV scores exist, per-attack EER) of joined scores."""
    is_bona = np.array([r.key == "bonafide" for r in records])
    sources = [r.attack for r in records if r.key != "bonafide"]
    asv = {}
    if asv_path is not None:
        a = read_asv_scores(asv_path)
        asv = dict(asv_target=a.target, asv_nontarget=a.nontarget, asv_spoof=a.spoof)
    try:
        return metrics.report_from_arrays(values[is_bona], values[~is_bona], sources, **asv)
    except ValueError as exc:  # the protocol lacks a class, or the ASV file is unusable
        raise DataError(f"{asv_path or 'the protocol'}: {exc}") from None


def save_figures(records: Sequence[CmRecord], values: np.ndarray, report: Mapping[str, Any],
                 out_dir: Path, prefix: str = "") -> list[Path]:
    """DET curve, score histograms per attack and per-attack EER bars as PNG files."""
    is_bona = np.array([r.key == "bonafide" for r in records])
    attacks = np.array([r.attack for r in records])
    by_attack = {a: values[(attacks == a) & ~is_bona] for a in report["per_attack_eer_percent"]}
    return [
        plots.plot_det(values[is_bona], values[~is_bona], out_dir / f"{prefix}det_curve.png"),
        plots.plot_score_histograms(values[is_bona], by_attack, out_dir / f"{prefix}score_histograms.png"),
        plots.plot_per_attack_eer(report["per_attack_eer_percent"], out_dir / f"{prefix}per_attack_eer.png",
                                  pooled_eer_percent=report["eer_percent"]),
    ]


def evaluate_split(model: torch.nn.Module, config: Mapping[str, Any], split: str, device: torch.device,
                   score_path: Path | None = None, amp: bool = False, progress: bool = True,
                   figures_dir: Path | None = None, figure_prefix: str = "") -> dict:
    """Score one split; optionally write its score file and figures. Returns the report."""
    records, source, asv = load_split(config, split)
    scores = score_loader(model, eval_loader(records, source, config, device), device, amp,
                          progress, desc=f"scoring {split}")
    values = join_scores(records, scores)
    if score_path is not None:
        write_cm_scores(score_path, records, values)
    report = report_for(records, values, asv)
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
                     amp: bool = False, progress: bool = True) -> dict:
    """`python -m aasist evaluate`: weights -> score file, metrics.json, figures, text report."""
    from . import build_model, load_weights

    dev = resolve_device(device)
    out = Path(out_dir or f"runs/evaluate-{Path(weights).stem}-{split}")
    model = load_weights(build_model(config["model_config"]).to(dev), weights)
    report = evaluate_split(model, config, split, dev, score_path=out / f"{split}_scores.txt",
                            amp=amp, progress=progress, figures_dir=out)
    report = {"split": split, "weights": str(weights), **report}
    with atomic_write(out / "metrics.json") as fh:
        fh.write(json.dumps(report, indent=2) + "\n")
    report["text"] = metrics.format_report(report) + f"\n\nwritten to {out}/"
    return report
