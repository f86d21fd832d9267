#!/usr/bin/env python
"""Clean vs channel-shifted eval EER of the mini demo, trained with and without augmentation.

    python -m experiments.robust                        # seeds 0,1,2; all four configs
    python -m experiments.robust --seeds 0 --configs mini,mini_robust --set num_epochs=3

For each corpus seed N it generates the mini corpus in data/mini_sN/ and its shifted eval
copy in data/mini_sN_shifted/ (python -m experiments.shift), trains each config in the order
given into OUT/<config>_sN/ (continuing an interrupted run, skipping a finished one), scores
the final weights on both eval splits, and prints one markdown table (also written to
OUT/results.json): clean and shifted eval EER, training seconds per epoch, and per config the
means over seeds.  The fine-tuning configs (init_weights runs/mini/...) start from the same
seed's mini run of this experiment: mini_finetune continues it on clean audio (the control),
mini_robust_finetune with the robust augmentation, both for 12 epochs.  ``--set`` changes
every run, fine-tuning included; ``--start-from DIR`` takes the mini runs from an earlier
experiment's folder, so fine-tuning variants need not train them again; ``--p-scale X``
multiplies every augmentation probability (lighter or heavier augmentation):

    python -m experiments.robust --configs mini_robust_finetune \\
        --start-from runs/robust --out runs/robust_light --p-scale 0.5

The same commands by hand, for one seed and config (a fine-tuning run adds
``--set init_weights=runs/robust/mini_sN/weights/last.pth``)::

    aasist train --config mini_robust --set mini_seed=N \\
        --set database_path=data/mini_sN/LA --out runs/robust/mini_robust_sN
    python -m experiments.shift --src data/mini_sN/LA --dest data/mini_sN_shifted
    aasist evaluate --config mini_robust \\
        --weights runs/robust/mini_robust_sN/weights/last.pth \\
        --set database_path=data/mini_sN_shifted/LA --split eval --out runs/robust/mini_robust_sN/shifted
"""
from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path

from aasist.cli import run_with_errors
from aasist.config import load_config, with_overrides
from aasist.data.mini import ensure_mini
from aasist.errors import ConfigError
from aasist.train import train

from .shift import evaluate_shifted


def _start_from_own_run(config, config_name: str, seed: int, out: Path) -> dict:
    """A fine-tuning config whose ``init_weights`` is ``runs/<name>/...`` (where the demo
    writes) starts from the ``<name>`` run on the same corpus seed in ``out`` instead."""
    init = Path(config["init_weights"])
    if not config["init_weights"] or len(init.parts) < 2 or init.parts[0] != "runs":
        return config
    base = init.parts[1]
    metrics = out / f"{base}_s{seed}" / "metrics.json"
    if not metrics.is_file():
        raise ConfigError(f"{config_name} fine-tunes the weights of {base}: list {base} before "
                          f"{config_name} in --configs, or point --start-from at a folder with "
                          f"one (no finished run in {metrics.parent})")
    return with_overrides(config, [f"init_weights={json.loads(metrics.read_text())['final_weights']}"])


def run_config(config_name: str, seed: int, args) -> dict:
    """The validated config of one run: corpus seed and path, ``--set``, ``--p-scale`` and
    the starting weights of a fine-tuning config applied."""
    data = Path(args.data) / f"mini_s{seed}"
    overrides = [f"mini_seed={seed}", f"database_path={data / 'LA'}", *args.overrides]
    config = load_config(config_name, overrides)  # a bundled config, by name
    augment = [{**t, "p": min(1.0, t["p"] * args.p_scale)} for t in config["augment"]]
    config = with_overrides(config, [f"augment={json.dumps(augment)}"])
    return _start_from_own_run(config, config_name, seed, Path(args.start_from or args.out))


def run_one(config_name: str, seed: int, args) -> dict:
    """Train (or finish, or reuse) one run; return its clean and shifted eval results."""
    data = Path(args.data) / f"mini_s{seed}"
    ensure_mini(data, seed=seed, progress=False)
    config = run_config(config_name, seed, args)
    out = Path(args.out) / f"{config_name}_s{seed}"
    if not (out / "metrics.json").is_file():
        train(config, out, resume=(out / "checkpoint.pt").is_file(), device=args.device,
              config_name=config_name, progress=not args.quiet)
    metrics = json.loads((out / "metrics.json").read_text())
    shifted = evaluate_shifted(config, metrics["final_weights"], Path(args.data) / f"mini_s{seed}_shifted",
                               out / "shifted_eval", seed=args.shift_seed, device=args.device,
                               progress=not args.quiet)
    with open(out / "metrics.csv", newline="") as fh:
        seconds = [float(row["seconds"]) for row in csv.DictReader(fh)]
    return {"config": config_name, "seed": seed, "clean_eer_percent": metrics["eval_eer_percent"],
            "shifted_eer_percent": shifted["eer_percent"], "seconds_per_epoch": statistics.mean(seconds),
            "shifted_eer_percent_by_condition": shifted["by_condition"], "run_dir": str(out)}


def table(rows: list[dict]) -> str:
    """Markdown: one line per run, then the mean over seeds per config."""
    lines = ["| config | corpus seed | clean eval EER % | shifted eval EER % | s/epoch (train + dev) |",
             "|---|---|---|---|---|"]
    lines += [f"| {r['config']} | {r['seed']} | {r['clean_eer_percent']:.2f} | "
              f"{r['shifted_eer_percent']:.2f} | {r['seconds_per_epoch']:.1f} |" for r in rows]
    for name in dict.fromkeys(r["config"] for r in rows):
        mine = [r for r in rows if r["config"] == name]
        mean = {k: statistics.mean(r[k] for r in mine)
                for k in ("clean_eer_percent", "shifted_eer_percent", "seconds_per_epoch")}
        lines.append(f"| **{name}** | mean of {len(mine)} | {mean['clean_eer_percent']:.2f} | "
                     f"{mean['shifted_eer_percent']:.2f} | {mean['seconds_per_epoch']:.1f} |")
    conditions = sorted({c for r in rows for c in r["shifted_eer_percent_by_condition"]})
    lines += ["", "Shifted eval EER % per condition (mean over seeds):", "",
              "| config | " + " | ".join(conditions) + " |", "|---" * (len(conditions) + 1) + "|"]
    for name in dict.fromkeys(r["config"] for r in rows):
        mine = [r["shifted_eer_percent_by_condition"] for r in rows if r["config"] == name]
        cells = [f"{statistics.mean(m[c] for m in mine if c in m):.2f}" for c in conditions]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2", help="mini corpus seeds, comma-separated")
    parser.add_argument("--configs", default="mini,mini_robust,mini_finetune,mini_robust_finetune",
                        help="bundled config names (config/), in training order")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a key in every run, e.g. num_epochs=3")
    parser.add_argument("--out", default="runs/robust", help="folder for the run directories")
    parser.add_argument("--start-from", default=None, metavar="DIR",
                        help="folder whose mini runs the fine-tuning configs start from (default: --out)")
    parser.add_argument("--p-scale", type=float, default=1.0, metavar="X",
                        help="multiply every augmentation probability by X (capped at 1)")
    parser.add_argument("--data", default="data", help="folder for the corpora and shifted copies")
    parser.add_argument("--shift-seed", type=int, default=0, help="seed of the shifted copies")
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if not args.p_scale >= 0:
        parser.error(f"--p-scale must be 0 or more, got {args.p_scale}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def run() -> None:
        rows = [run_one(name, int(seed), args) for seed in args.seeds.split(",")
                for name in args.configs.split(",")]
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
        print(table(rows))

    return run_with_errors(run)


if __name__ == "__main__":
    sys.exit(main())
