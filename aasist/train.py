"""The official AASIST training recipe, on CUDA or CPU, resumable and reproducible.

Read top to bottom: `train` sets up (seeds, data, model, optimiser), resumes if asked,
runs `train_epoch` + dev scoring per epoch, keeps best-dev weights and an SWA average
over them, then evaluates the final (SWA) model on the eval split.

Recipe (clovaai/aasist main.py + utils.py): Adam (lr base_lr, config betas, weight decay),
a cosine schedule stepped every batch from base_lr down to lr_min, cross-entropy weighted
[0.1 spoof, 0.9 bona fide] (config class_weights), random nb_samp windows, SWA over the
best-dev snapshots with a BatchNorm refresh at the end. Works under `torchrun` (DistributedDataParallel).

Run directory: config.conf, run_info.json, metrics.csv, checkpoint.pt, weights/,
eval_scores.txt, metrics.json, figures. The final model (SWA, or the last epoch with
``swa: false``) is saved as weights/swa.pth or weights/last.pth. ``checkpoint.pt`` is replaced atomically at each
epoch end and holds everything `--resume` needs, RNG states included, so a resumed CPU
run gives exactly the scores of an uninterrupted one.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import pickle
import platform
import random
import subprocess
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, update_bn
from torch.utils.data import DataLoader, DistributedSampler
from tqdm.auto import tqdm

from . import runtime
from .augment import train_augmentation
from .config import load_config, loader_workers, save_config, validate_config
from .data.datasets import TrainDataset, make_generator, seed_worker
from .errors import AasistError, ConfigError
from .evaluate import evaluate_split, load_split
from .fileio import FolderLock, atomic_torch_save, atomic_write
from .nn import Kernels, count_parameters
from .pretrained import build_model, load_weights
from .runtime import autocast, resolve_device

CSV_FIELDS = ["epoch", "train_loss", "lr", "dev_eer_percent", "dev_min_tdcf", "best_dev",
              "eval_eer_percent", "seconds"]


class TrainingError(AasistError):
    """Training cannot go on (NaN loss, unusable run directory)."""


# --------------------------------------------------------------------------- set-up

def set_seed(seed: int, config: Mapping[str, Any]) -> None:
    """Seed python, numpy and torch (all devices); cuDNN flags from the config."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    torch.backends.cudnn.deterministic = config["cudnn_deterministic_toggle"]
    torch.backends.cudnn.benchmark = config["cudnn_benchmark_toggle"]


def cosine_lambda(total_steps: int, base_lr: float, lr_min: float):
    """LR multiplier for LambdaLR: cosine from 1 at step 0 to lr_min/base_lr at total_steps."""
    floor = lr_min / base_lr

    def factor(step: int) -> float:
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * step / total_steps))
    return factor


def build_optimizer(model: torch.nn.Module, optim: Mapping[str, Any], total_steps: int):
    """Adam + per-batch cosine schedule (or a constant lr with scheduler 'none').

    On CUDA Adam runs fused (one kernel for all parameters instead of several per tensor:
    the same update up to float rounding); elsewhere it is PyTorch's default."""
    on_cuda = all(p.device.type == "cuda" for p in model.parameters())
    optimizer = torch.optim.Adam(model.parameters(), lr=optim["base_lr"], betas=tuple(optim["betas"]),
                                 weight_decay=optim["weight_decay"], amsgrad=optim["amsgrad"],
                                 fused=True if on_cuda else None)
    if optim["scheduler"] == "cosine":
        lr_fn = cosine_lambda(max(total_steps, 1), optim["base_lr"], optim["lr_min"])
    else:
        lr_fn = lambda step: 1.0  # noqa: E731
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lr_fn)


def grad_scaler(amp: bool):
    """A loss scaler for fp16 autocast (GPUs without bf16); None for bf16 or fp32."""
    return torch.amp.GradScaler("cuda") if amp and not torch.cuda.is_bf16_supported() else None


def _distributed() -> tuple[int, int]:
    """(rank, world size); starts the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def _barrier(world: int) -> None:
    if world > 1:
        dist.barrier()


def run_info(config: Mapping[str, Any], device: torch.device, world: int, kernels: Kernels) -> dict:
    """Versions, git commit and device: enough to say where a result came from."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    import scipy

    return {
        "git_commit": commit, "python": platform.python_version(), "torch": torch.__version__,
        "numpy": np.__version__, "scipy": scipy.__version__,
        "device": str(device), "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        **runtime.cpu_description(), "world_size": world, "seed": config["seed"],
        "encoder_layout": kernels.train_layout, "selu_kernel": kernels.selu,
    }


def _prepare_run_dir(out: Path, config: dict, resume: bool) -> dict:
    """Create or check the run directory; on resume return the run's own config."""
    saved = out / "config.conf"
    if resume:
        if not (out / "checkpoint.pt").is_file():
            raise TrainingError(f"{out}/checkpoint.pt not found: nothing to resume; "
                                f"drop --resume to start a new run there")
        run_config = load_config(saved)  # a damaged file is a ConfigError naming it
        changed = sorted(k for k in run_config if run_config[k] != config.get(k))
        if changed:
            raise ConfigError(f"--resume continues with {saved}, but these keys differ from "
                              f"the given config: {', '.join(changed)}; drop the changes or use a new --out")
        return run_config
    if out.exists() and any(p.name != FolderLock.NAME for p in out.iterdir()):
        raise TrainingError(f"run directory {out} already holds files; continue it with --resume "
                            f"or choose another --out (nothing was overwritten)")
    (out / "weights").mkdir(parents=True, exist_ok=True)
    save_config(config, saved)
    return config


def _ensure_data(config: Mapping[str, Any]) -> None:
    """Generate the mini corpus when a config asks for it and it is absent."""
    if config.get("mini_corpus"):
        from .data.mini import ensure_mini

        root = Path(config["database_path"])
        ensure_mini(root.parent if root.name == "LA" else root, seed=config["mini_seed"])


# --------------------------------------------------------------------------- state

def _rng_state() -> dict:
    """Every RNG's state, in types ``torch.load(weights_only=True)`` reads (the NumPy key
    array as a tensor), so a run's checkpoint.pt loads safely wherever weights are taken."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"python": random.getstate(),
             "numpy": (name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss),
                       float(cached)),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Mapping[str, Any]) -> None:
    random.setstate(state["python"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), *rest))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# --------------------------------------------------------------------------- loop

def train_epoch(model, loader, optimizer, scheduler, device, *, class_weights, freq_aug: bool,
                amp: bool, scaler, epoch: int, progress: bool, augment=None) -> float:
    """One pass over the training loader; returns the mean loss per utterance.

    ``augment`` (a `TrainAugmentation`, or None) transforms each batch on ``device``."""
    model.train()
    weight = torch.tensor(class_weights, dtype=torch.float32, device=device)
    total, count = 0.0, 0
    bar = tqdm(loader, desc=f"epoch {epoch}", disable=not progress, leave=False, unit="batch")
    for step, (x, y) in enumerate(bar):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if augment is not None:
            x = augment(x, epoch, step)
        with autocast(device, amp):
            logits = model(x, freq_aug=freq_aug)
        loss = F.cross_entropy(logits.float(), y, weight=weight)
        if not torch.isfinite(loss):
            raise TrainingError(
                f"the loss became {loss.item()} at epoch {epoch}, batch {step}; the last good "
                f"state is kept in checkpoint.pt: lower optim_config.base_lr (or turn amp off) "
                f"and continue with --resume")
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        scheduler.step()
        total += loss.item() * len(y)
        count += len(y)
        bar.set_postfix(loss=f"{total / count:.4f}", lr=f"{scheduler.get_last_lr()[0]:.2e}")
    return total / max(count, 1)


def _append_csv(path: Path, row: Mapping[str, Any]) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        if new:
            writer.writeheader()
        writer.writerow({k: row.get(k, "") for k in CSV_FIELDS})


def _read_csv(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _truncate_csv(path: Path, epochs_done: int) -> None:
    """Drop rows written after the checkpoint (a run killed between CSV and checkpoint)."""
    rows = [r for r in _read_csv(path) if int(r["epoch"]) < epochs_done]
    if not path.exists():
        return
    with atomic_write(path, newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows({k: row.get(k, "") for k in CSV_FIELDS} for row in rows)


def _train_loader(config: Mapping[str, Any], dev: torch.device, rank: int, world: int,
                  augment=None):
    """(loader, sampler or None, generator) over random nb_samp windows of the train split.

    The batch size is global: each of N processes takes batch_size // N. ``augment``
    adds its per-clip transforms to the dataset.
    """
    records, source = load_split(config, "train")
    if config["max_train_items"]:
        records = records[:config["max_train_items"]]
    train_set = TrainDataset(records, source, config["model_config"]["nb_samp"])
    per_clip = augment is not None and augment.per_clip
    if per_clip:
        train_set = augment.wrap(train_set)
    generator = make_generator(config["seed"])
    sampler = DistributedSampler(train_set, world, rank, shuffle=True, seed=config["seed"],
                                 drop_last=True) if world > 1 else None
    per_rank = max(config["batch_size"] // world, 1)
    if len(train_set) // world < per_rank:
        raise ConfigError(f"batch_size {config['batch_size']} is larger than the {len(train_set)} "
                          f"training utterances; lower batch_size")
    loader = DataLoader(train_set, batch_size=per_rank, shuffle=sampler is None, sampler=sampler,
                        drop_last=True, num_workers=loader_workers(config, per_clip),
                        pin_memory=dev.type == "cuda", worker_init_fn=seed_worker,
                        generator=generator)
    return loader, sampler, generator


def _read_checkpoint(path: Path, dev: torch.device) -> dict:
    """checkpoint.pt, or a TrainingError naming it and what to do."""
    try:
        try:
            ckpt = torch.load(path, map_location=dev, weights_only=True)
        except pickle.UnpicklingError:  # written by aasist 0.1 (NumPy arrays): the run's own file
            ckpt = torch.load(path, map_location=dev, weights_only=False)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as exc:
        raise TrainingError(f"{path}: cannot resume from it, the file is damaged or truncated "
                            f"({exc.__class__.__name__}); start a new run (another --out), or "
                            f"put back a copy of the file") from exc
    missing = [k for k in ("model", "optimizer", "scheduler", "generator", "rng", "state")
               if not isinstance(ckpt, dict) or k not in ckpt]
    if missing:
        raise TrainingError(f"{path}: not a training checkpoint of this package (no "
                            f"{', '.join(missing)}); start a new run (another --out)")
    return ckpt


def _restore(out: Path, dev: torch.device, rank: int, parts: Mapping[str, Any], main: bool) -> dict:
    """Load checkpoint.pt into model, optimiser, scheduler, SWA, scaler, loader generator and
    RNGs; drop metrics.csv rows written after it. Returns the loop state."""
    ckpt = _read_checkpoint(out / "checkpoint.pt", dev)
    for name in ("model", "optimizer", "scheduler", "swa", "scaler"):
        if parts[name] is not None and ckpt.get(name) is not None:
            parts[name].load_state_dict(ckpt[name])
    parts["generator"].set_state(ckpt["generator"])
    _set_rng_state(ckpt["rng"][rank] if isinstance(ckpt["rng"], list) else ckpt["rng"])
    if "selu_kernel" in ckpt:  # the same float rounding as the run so far: an exact resume
        model = parts["model"]
        model.kernels = dataclasses.replace(model.kernels, selu=ckpt["selu_kernel"])
    if main:
        _truncate_csv(out / "metrics.csv", ckpt["state"]["epoch"])
        print(f"resuming {out} after epoch {ckpt['state']['epoch']}")
    return ckpt["state"]


def _end_of_epoch(parts: Mapping[str, Any], state: dict, config: Mapping[str, Any], row: dict,
                  dev: torch.device, amp: bool, out: Path, progress: bool) -> None:
    """Rank 0 after each epoch: dev scoring, best-dev weights and SWA, metrics.csv, checkpoint.pt."""
    model = parts["model"]
    dev_report = evaluate_split(model, config, "dev", dev, amp=amp, progress=progress)
    dev_eer = dev_report["eer_percent"]
    row.update(dev_eer_percent=f"{dev_eer:.4f}", dev_min_tdcf=dev_report["min_tdcf"] or "")
    if dev_eer <= state["best_dev_eer"]:  # official: ties count as improvements
        state.update(best_dev_eer=dev_eer, best_epoch=row["epoch"])
        atomic_torch_save(model.state_dict(), out / "weights" / "best_dev.pth")
        row["best_dev"] = 1
        if parts["swa"] is not None:
            parts["swa"].update_parameters(model)
            state["n_swa"] += 1
        if config["eval_all_best"]:
            eval_report = evaluate_split(model, config, "eval", dev, amp=amp, progress=progress)
            row["eval_eer_percent"] = f"{eval_report['eer_percent']:.4f}"
    row["seconds"] = f"{time.time() - row.pop('start'):.1f}"
    _append_csv(out / "metrics.csv", row)
    state["epoch"] = row["epoch"] + 1
    checkpoint = {name: (part.state_dict() if part is not None else None)
                  for name, part in parts.items() if name != "generator"}
    atomic_torch_save({**checkpoint, "generator": parts["generator"].get_state(), "rng": _rng_state(),
                       "selu_kernel": parts["model"].kernels.selu, "state": state,
                       "config": config.to_dict()},
                      out / "checkpoint.pt")
    tdcf = dev_report["min_tdcf"]
    print(f"epoch {row['epoch']:3d}  loss {float(row['train_loss']):.4f}  dev EER {dev_eer:6.2f}%  "
          f"dev t-DCF {tdcf if tdcf is None else f'{tdcf:.4f}'}  {row['seconds']} s"
          + ("  *best" if row.get("best_dev") else ""))


def _rank_device(device: str | None, world: int) -> torch.device:
    """The device of this process; under torchrun on CUDA, the GPU named by LOCAL_RANK."""
    dev = resolve_device(device)
    if dev.type == "cuda" and world > 1:
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(dev)
    return dev


def _announce(config, config_name: str, model, train_loader, dev, world: int, out: Path) -> None:
    """Write run_info.json (machine, kernels, parameters) and print the one-line run summary."""
    info = run_info(config, dev, world, model.kernels)
    info["parameters"] = count_parameters(model)
    with atomic_write(out / "run_info.json") as fh:
        fh.write(json.dumps(info, indent=2) + "\n")
    print(f"training {config_name}: {info['parameters']:,} parameters, "
          f"{len(train_loader.dataset)} utterances, {len(train_loader)} batches/epoch on "
          f"{dev} (x{world})")


def _initial_model(config: Mapping[str, Any], resume: bool,
                   device: torch.device = torch.device("cpu")) -> torch.nn.Module:
    """The model training starts from, on ``device``: a fresh init, or ``init_weights`` when
    fine-tuning (a resumed run takes its weights from its checkpoint instead)."""
    model = build_model(config["model_config"], device)
    if config["init_weights"] and not resume:
        load_weights(model, config["init_weights"])
    return model


def train(config: Mapping[str, Any], out_dir: str | Path | None = None, resume: bool = False,
          device: str | None = None, config_name: str = "run", progress: bool = True) -> dict:
    """Train with ``config`` into ``out_dir``; returns the final metrics (and ``run_dir``).

    The run directory is locked while training runs (``RUN/.lock``): a second trainer on it
    is refused with a BusyError naming the process that holds it; the lock of a killed
    trainer goes with it, so ``--resume`` after a kill just works.
    """
    rank, world = _distributed()
    out = Path(out_dir or Path("runs") / config_name)
    config = validate_config(config)
    # an invalid model config or unusable init_weights fails before any file is written
    _initial_model(config, resume)
    lock = FolderLock(out, "run directory", "wait for that training to finish, or choose "
                      "another --out") if rank == 0 else None
    if lock is not None:
        lock.acquire()
    try:
        return _train(config, out, resume, device, config_name, progress, rank, world)
    finally:
        if lock is not None:
            lock.release()


def _train(config, out: Path, resume: bool, device, config_name: str, progress: bool,
           rank: int, world: int) -> dict:
    dev = _rank_device(device, world)
    main = rank == 0
    progress = progress and main
    if main:
        config = _prepare_run_dir(out, config, resume)
        _ensure_data(config)
    _barrier(world)
    if not main:
        config = load_config(out / "config.conf")
    set_seed(config["seed"] + rank, config)
    amp = config["amp"] and dev.type == "cuda"

    augment = train_augmentation(config, rank)
    train_loader, sampler, generator = _train_loader(config, dev, rank, world, augment)
    model = _initial_model(config, resume, dev)  # after set_seed: a seeded init
    ddp = torch.nn.parallel.DistributedDataParallel(
        model, device_ids=[dev] if dev.type == "cuda" else None) if world > 1 else model
    optimizer, scheduler = build_optimizer(model, config["optim_config"],
                                           config["num_epochs"] * len(train_loader))
    parts = {"model": model, "optimizer": optimizer, "scheduler": scheduler,
             "swa": AveragedModel(model) if config["swa"] else None,
             "scaler": grad_scaler(amp), "generator": generator}
    state = {"epoch": 0, "best_dev_eer": math.inf, "best_epoch": None, "n_swa": 0}
    if resume:
        state = _restore(out, dev, rank, parts, main)
    if main:
        _announce(config, config_name, model, train_loader, dev, world, out)

    for epoch in range(state["epoch"], config["num_epochs"]):
        start = time.time()
        if sampler is not None:
            sampler.set_epoch(epoch)
        loss = train_epoch(ddp, train_loader, optimizer, scheduler, dev,
                           class_weights=config["class_weights"], freq_aug=config["freq_aug"],
                           amp=amp, scaler=parts["scaler"], epoch=epoch, progress=progress,
                           augment=augment)
        row = {"epoch": epoch, "train_loss": f"{loss:.6f}", "start": start,
               "lr": f"{scheduler.get_last_lr()[0]:.3e}"}
        if main:
            _end_of_epoch(parts, state, config, row, dev, amp, out, progress)
        else:
            state["epoch"] = epoch + 1
        _barrier(world)

    result: dict = {"run_dir": str(out)}
    if main:
        result.update(_finish(model, parts["swa"], state, config, train_loader, dev, amp, out,
                              progress, augment))
    _barrier(world)
    if world > 1:
        dist.destroy_process_group()
    return result


def _finish(model, swa_model, state, config, train_loader, device, amp, out: Path, progress,
            augment=None) -> dict:
    """SWA swap + BatchNorm refresh, final eval scoring, metrics.json and figures.

    The BatchNorm statistics are refreshed on inputs augmented as in training."""
    from . import plots

    final, final_path = model, out / "weights" / "last.pth"
    if swa_model is not None and state["n_swa"] > 0:
        inputs = augment.batches(train_loader, device) if augment is not None else train_loader
        update_bn(inputs, swa_model, device=device)
        final, final_path = swa_model.module, out / "weights" / "swa.pth"
    atomic_torch_save(final.state_dict(), final_path)
    results = {"best_dev_epoch": state["best_epoch"], "best_dev_eer_percent": state["best_dev_eer"],
               "swa_snapshots": state["n_swa"], "final_model": "swa" if final is not model else "last",
               "final_weights": str(final_path)}
    for split in config["eval_splits"]:
        score_path = out / (config["eval_output"] if split == "eval" else f"{split}_scores.txt")
        report = evaluate_split(final, config, split, device, score_path=score_path, amp=amp,
                                progress=progress, figures_dir=out, figure_prefix=f"{split}_")
        results.update({f"{split}_{k}": v for k, v in report.items()})
    with atomic_write(out / "metrics.json") as fh:
        fh.write(json.dumps(results, indent=2) + "\n")
    rows = _read_csv(out / "metrics.csv")
    if rows:
        plots.plot_training_curves(rows, out / "training_curves.png")
    for split in config["eval_splits"]:
        print(f"{split}: EER {results[f'{split}_eer_percent']:.2f}%  "
              f"min t-DCF {results.get(f'{split}_min_tdcf')}")
    return results


__all__ = ["TrainingError", "build_optimizer", "cosine_lambda", "set_seed", "train", "train_epoch"]
