"""Experiment configs in the official clovaai/aasist JSON `.conf` format.

`load_config(path, overrides)` reads a `.conf`, fills our optional keys with defaults,
applies ``KEY=VALUE`` overrides (dotted keys reach nested dicts) and validates every key
and type, so a typo fails at once with a message that lists the valid keys.
The official files write booleans as the strings "True"/"False"; both spellings and real
JSON booleans are accepted and normalised to bool.
"""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from .data.corpora import CORPORA
from .errors import ConfigError

REQUIRED = object()  # marks a key that the config file must contain

# Each entry: key -> (type, default or REQUIRED, what it does). "list" values are
# checked as lists; their elements are checked by the model when it is built.
MODEL_SCHEMA: dict[str, tuple[type, Any, str]] = {
    "architecture": (str, "AASIST", "model family; only AASIST exists (AASIST-L is a smaller AASIST)"),
    "nb_samp": (int, REQUIRED, "samples per training/eval window at 16 kHz (64600 = 4.04 s)"),
    "eval_nb_samp": (int, 0, "samples per scoring window (dev/eval scoring, predict, stream, serve) "
                     "when it should differ from nb_samp; 0 = nb_samp, the official rule"),
    "first_conv": (int, REQUIRED, "sinc filter length (an even value is made odd, as officially)"),
    "filts": (list, REQUIRED, "[n_sinc, [in, out] x 4] channels of the sinc layer and residual blocks"),
    "gat_dims": (list, REQUIRED, "[graph attention dim, heterogeneous graph dim]"),
    "pool_ratios": (list, REQUIRED, "node keep ratios: [spectral, temporal, hetero, hetero]"),
    "temperatures": (list, REQUIRED, "attention temperatures: [spectral, temporal, hetero, unused]"),
}

OPTIM_SCHEMA: dict[str, tuple[type, Any, str]] = {
    "optimizer": (str, "adam", "only adam (the official recipe)"),
    "amsgrad": (bool, False, "Adam's amsgrad variant"),
    "base_lr": (float, REQUIRED, "peak learning rate"),
    "lr_min": (float, REQUIRED, "learning rate at the end of the cosine schedule"),
    "betas": (list, [0.9, 0.999], "Adam betas"),
    "weight_decay": (float, 0.0, "Adam (L2) weight decay"),
    "scheduler": (str, "cosine", "'cosine' (stepped per batch) or 'none'"),
}

SCHEMA: dict[str, tuple[type, Any, str]] = {
    # --- keys of the official config files ---
    "database_path": (str, REQUIRED, "folder holding the corpus (for la2019 the LA/ folder; "
                      "see aasist.data.corpora for each corpus's layout)"),
    "asv_score_path": (str, "ASVspoof2019_LA_asv_scores/ASVspoof2019.LA.asv.eval.gi.trl.scores.txt",
                       "eval ASV scores, relative to database_path (dev uses the dev file)"),
    "model_path": (str, "", "weights that evaluate/predict use when given this config without --weights"),
    "batch_size": (int, 24, "training and evaluation batch size"),
    "num_epochs": (int, REQUIRED, "training epochs (the official recipe: 100)"),
    "loss": (str, "CCE", "only CCE: class-weighted cross-entropy"),
    "class_weights": (list, [0.1, 0.9], "cross-entropy weights [spoof, bona fide]; official [0.1, 0.9] "
                      "balances LA's 9:1 spoof:bona fide ratio"),
    "track": (str, "LA", "only LA"),
    "eval_all_best": (bool, True, "score the eval split whenever dev EER improves"),
    "eval_output": (str, "eval_scores.txt", "file name of the final eval score file"),
    "cudnn_deterministic_toggle": (bool, True, "torch.backends.cudnn.deterministic"),
    "cudnn_benchmark_toggle": (bool, False, "torch.backends.cudnn.benchmark"),
    "freq_aug": (bool, False, "mask random sinc bands during training (official option)"),
    "model_config": (dict, REQUIRED, "model hyper-parameters (see MODEL_SCHEMA)"),
    "optim_config": (dict, REQUIRED, "optimiser hyper-parameters (see OPTIM_SCHEMA)"),
    # --- our additions, all optional ---
    "seed": (int, 1234, "seed for python, numpy, torch and DataLoader workers (official default)"),
    "num_workers": (int, -1, "DataLoader worker processes; -1 = 0 with use_cache, else 2"),
    "use_cache": (bool, False, "decode each split once into a memory-mapped int16 cache"),
    "cache_dir": (str, "", "where the decoded cache lives (default: <database_path>/.cache)"),
    "amp": (bool, False, "mixed precision on CUDA (bf16 where supported, else fp16); ignored on CPU"),
    "swa": (bool, True, "average the best-dev snapshots (SWA) and update BatchNorm at the end"),
    "max_train_items": (int, 0, "use only the first N training utterances (0 = all); for quick checks"),
    "eval_splits": (list, ["eval"], "splits scored after training"),
    "mini_corpus": (bool, False, "generate the synthetic mini corpus at database_path when absent"),
    "mini_seed": (int, 0, "seed of the generated mini corpus"),
    "corpus": (str, "la2019", "which corpus database_path holds: la2019, la2021, df2021, itw, "
               "asvspoof5 (training needs one with a train split: la2019, asvspoof5)"),
    "max_dev_items": (int, 0, "score only the first N dev utterances after each epoch (0 = all); "
                      "the ASVspoof 5 baseline validates on 2,000"),
    "init_weights": (str, "", "weights training starts from instead of a random init (fine-tuning): "
                     "a .pth, a run's checkpoint.pt, or official:AASIST / official:AASIST-L"),
    "augment": (list, [], "training-only augmentation: a list of {name, p, parameters} "
                "(rawboost, codec, telephone, noise, reverb, bandlimit, packet_loss); [] = none"),
}

_NESTED = {"model_config": MODEL_SCHEMA, "optim_config": OPTIM_SCHEMA}
# Keys whose value must be one of a few names (case-insensitive for the optimiser, as officially).
CHOICES: dict[str, tuple[str, ...]] = {
    "loss": ("CCE",),
    "track": ("LA",),
    "model_config.architecture": ("AASIST",),
    "optim_config.optimizer": ("adam",),
    "optim_config.scheduler": ("cosine", "none"),
}
_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


def _coerce(value: Any, kind: type, name: str) -> Any:
    """Return ``value`` as ``kind`` or raise ConfigError naming ``name``."""
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(value, kind):
        return value
    raise ConfigError(f"config key '{name}' must be {kind.__name__}, got {value!r}")


def _validate(section: Mapping[str, Any], schema: Mapping[str, tuple], prefix: str) -> dict:
    unknown = sorted(set(section) - set(schema))
    if unknown:
        valid = ", ".join(prefix + k for k in schema)
        raise ConfigError(f"unknown config key '{prefix}{unknown[0]}'; valid keys: {valid}")
    out = {}
    for key, (kind, default, _doc) in schema.items():
        name = prefix + key
        if key not in section:
            if default is REQUIRED:
                raise ConfigError(f"config key '{name}' is missing (it is required)")
            out[key] = copy.deepcopy(default)
            continue
        value = _coerce(section[key], kind, name)
        out[key] = _validate(value, _NESTED[key], name + ".") if key in _NESTED else value
    return out


def loader_workers(config: Mapping[str, Any], clip_work: bool = False) -> int:
    """DataLoader workers for ``config``: its ``num_workers``, or the automatic choice (-1).

    With the decoded cache an item is a memory copy, and worker processes only add the cost of
    shipping each batch between processes (scripts/benchmark.py --sections data: 0 workers
    about 5x faster than 2 on this project's 2-core machine), so loading stays in-process;
    FLAC decoding is real work, which 2 workers overlap with the model. ``clip_work``: the
    items also pass through per-clip augmentation (codecs, telephone), about 125 clips/s per
    core, less than a GPU trains on: up to 8 workers (one per core).
    """
    workers = config.get("num_workers", -1)
    if workers >= 0:
        return workers
    if clip_work:
        return max(2, min(os.cpu_count() or 1, 8))
    return 0 if config.get("use_cache") else 2


def validate_config(config: Mapping[str, Any]) -> dict:
    """Check keys and types, fill defaults; returns a new, normalised dict."""
    config = _validate(config, SCHEMA, "")
    for name, valid in CHOICES.items():
        section, _, key = name.rpartition(".")
        value = (config[section] if section else config)[key]
        if value.lower() not in {v.lower() for v in valid}:
            raise ConfigError(f"config key '{name}' must be one of {', '.join(valid)}, got {value!r}")
    for key in ("batch_size", "num_epochs"):
        if config[key] < 1:
            raise ConfigError(f"config key '{key}' must be at least 1, got {config[key]}")
    if config["num_workers"] < -1:
        raise ConfigError(f"num_workers must be -1 (automatic) or at least 0, got {config['num_workers']}")
    weights = config["class_weights"]
    if len(weights) != 2 or not all(isinstance(w, (int, float)) and w > 0 for w in weights):
        raise ConfigError(f"class_weights must be two positive numbers [spoof, bona fide], got {weights!r}")
    bad_splits = set(config["eval_splits"]) - {"dev", "eval"}
    if bad_splits:
        raise ConfigError(f"eval_splits may hold 'dev' and 'eval', got {sorted(bad_splits)}")
    if config["corpus"] not in CORPORA:
        raise ConfigError(f"config key 'corpus' must be one of {', '.join(CORPORA)}, "
                          f"got {config['corpus']!r}")
    if config["max_dev_items"] < 0:
        raise ConfigError(f"max_dev_items must be 0 (all) or more, got {config['max_dev_items']}")
    if config["model_config"]["eval_nb_samp"] < 0:
        raise ConfigError(f"model_config.eval_nb_samp must be 0 (= nb_samp) or a number of samples, "
                          f"got {config['model_config']['eval_nb_samp']}")
    config["augment"] = _validate_augment(config["augment"])
    return config


def scoring_samples(model_config: Mapping[str, Any]) -> int:
    """Samples per window when a model scores audio: ``eval_nb_samp``, else ``nb_samp``.

    The official recipe scores the first ``nb_samp`` samples, the length it trains on
    (4.04 s, most of an LA utterance). A config that trains on short crops for speed (the
    mini demo's 0.25 s) can score more of each clip: the model is length-agnostic.
    """
    return int(model_config.get("eval_nb_samp") or model_config["nb_samp"])


def _validate_augment(entries: list) -> list:
    """The ``augment`` list, each transform checked and completed (see aasist.augment)."""
    if not entries:
        return []
    from .augment.spec import validate_augment  # only configs that augment import it

    return validate_augment(entries)


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``"a.b=VALUE"`` into (["a", "b"], value); VALUE is JSON when it parses, else a string."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like KEY=VALUE (e.g. num_epochs=10)")
    key, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip().split("."), value


def apply_overrides(config: Mapping[str, Any], overrides: Iterable[str]) -> dict:
    """Return a copy of ``config`` with ``KEY=VALUE`` overrides applied (not yet validated)."""
    config = copy.deepcopy(dict(config))
    for text in overrides:
        path, value = parse_override(text)
        schema, node = SCHEMA, config
        for depth, part in enumerate(path):
            if part not in schema:
                prefix = ".".join(path[:depth])
                valid = ", ".join((prefix + "." if prefix else "") + k for k in schema)
                raise ConfigError(f"unknown config key '{'.'.join(path)}'; valid keys: {valid}")
            if depth == len(path) - 1:
                node[part] = value
            else:
                if part not in _NESTED:
                    raise ConfigError(f"config key '{part}' has no nested keys")
                node = node.setdefault(part, {})
                schema = _NESTED[part]
    return config


def load_config(path: str | Path, overrides: Iterable[str] = ()) -> dict:
    """Read a `.conf` (JSON) file, apply overrides, validate; returns the resolved dict."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found; the shipped ones are in config/") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config must be a JSON object")
    try:
        return validate_config(apply_overrides(raw, overrides))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def save_config(config: Mapping[str, Any], path: str | Path) -> None:
    """Write a resolved config as pretty JSON (loadable by `load_config`)."""
    Path(path).write_text(json.dumps(config, indent=4) + "\n")
