"""Experiment configs: typed dataclasses read from the official clovaai/aasist `.conf` JSON.

``load_config(path_or_name, overrides)`` reads a `.conf` (a file, or a bundled config by
name: ``"mini"``, ``"AASIST-L"``, ... see :func:`bundled_configs`), fills our optional keys
with defaults, applies ``KEY=VALUE`` overrides (dotted keys reach nested sections) and runs
the one validator, :func:`validate_config`, so a typo fails at once with a message that
lists the valid keys. The result is a frozen :class:`Config` whose sections are
:class:`ModelConfig` and :class:`OptimConfig`; each is also a read-only mapping
(``config["num_epochs"]`` and ``config.num_epochs`` are the same), and ``to_dict()`` gives
the JSON a run directory saves. Change one with :func:`with_overrides` or
``dataclasses.replace``.

The official files write booleans as the strings "True"/"False"; both spellings and real
JSON booleans are accepted and normalised to bool.
"""
from __future__ import annotations

import copy
import json
import os
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Union, get_type_hints

from .data.corpora import CORPORA
from .errors import ConfigError
from .fileio import atomic_write
from .nn import ARCHITECTURES, min_input_samples
from .nn import rawgat

PathLike = Union[str, "os.PathLike[str]"]


def _doc(text: str, default: Any = dataclass, **kw) -> Any:
    """A dataclass field with its documentation (and a default unless it is required)."""
    if default is dataclass:
        return field(metadata={"doc": text}, **kw)
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: copy.deepcopy(default), metadata={"doc": text})
    return field(default=default, metadata={"doc": text})


class _Section(Mapping):
    """Read-only mapping access to a config dataclass (``section["key"]``), and ``to_dict``."""

    def __getitem__(self, key: str) -> Any:
        if key not in _field_names(type(self)):
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(_field_names(type(self)))

    def __len__(self) -> int:
        return len(_field_names(type(self)))

    def to_dict(self) -> dict:
        """A plain JSON-ready dict (nested sections too), loadable by :func:`validate_config`."""
        return {k: (v.to_dict() if isinstance(v, _Section) else copy.deepcopy(v))
                for k, v in ((f, getattr(self, f)) for f in _field_names(type(self)))}


@lru_cache(maxsize=None)
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


@dataclass(frozen=True, eq=True, kw_only=True)
class ModelConfig(_Section):
    """``model_config``: the network's hyper-parameters (each architecture's official keys).

    The keys of one architecture only (:data:`ARCHITECTURE_KEYS`) are optional here: unset
    (None) in a config of the other architecture, where they are absent from the mapping
    and from ``to_dict()``; the validator says which of them an architecture needs.
    """

    architecture: str = _doc("model family (aasist.nn.ARCHITECTURES: AASIST, RawGAT-ST; "
                             "AASIST-L is a smaller AASIST)", "AASIST")
    nb_samp: int = _doc("samples per training/eval window at 16 kHz (64600 = 4.04 s)")
    eval_nb_samp: int = _doc("samples per scoring window (dev/eval scoring, predict, stream, "
                             "serve) when it should differ from nb_samp; 0 = nb_samp, the "
                             "official rule", 0)
    first_conv: int = _doc("sinc filter length (an even value is made odd, as officially)")
    filts: list = _doc("channels: AASIST [n_sinc, [in, out] x 4] of the sinc layer and "
                       "residual blocks; RawGAT-ST [unused, [in, out] x 3] of its blocks")
    # --- AASIST only ---
    gat_dims: list = _doc("AASIST: [graph attention dim, heterogeneous graph dim]", None)
    pool_ratios: list = _doc("AASIST: node keep ratios: [spectral, temporal, hetero, hetero]", None)
    temperatures: list = _doc("AASIST: attention temperatures: [spectral, temporal, hetero, "
                              "unused]", None)
    # --- RawGAT-ST only (the authors' model_config_RawGAT_ST.yaml, plus fusion) ---
    out_channels: int = _doc("RawGAT-ST: sinc bands (70)", None)
    fusion: str = _doc("RawGAT-ST: how the spectral and temporal graphs are combined: "
                       "mul, add or cat (the three published models)", None)
    in_channels: int = _doc("RawGAT-ST: input channels, 1 (a key of the authors' config)", None)
    blocks: list = _doc("RawGAT-ST: residual blocks per stage, [2, 4] (a key of the authors' "
                        "config; the encoder is built for it)", None)
    nb_classes: int = _doc("RawGAT-ST: output classes, 2 (a key of the authors' config)", None)

    def _set(self) -> tuple[str, ...]:
        return tuple(k for k in _field_names(type(self)) if getattr(self, k) is not None)

    def __getitem__(self, key: str) -> Any:
        if key not in _field_names(type(self)) or getattr(self, key) is None:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._set())

    def __len__(self) -> int:
        return len(self._set())

    def to_dict(self) -> dict:
        """The keys that are set, as a plain JSON-ready dict."""
        return {k: copy.deepcopy(getattr(self, k)) for k in self._set()}


#: architecture -> its own model_config keys (a config of another architecture must not set them).
ARCHITECTURE_KEYS: dict[str, tuple[str, ...]] = {
    "AASIST": ("gat_dims", "pool_ratios", "temperatures"),
    "RawGAT-ST": ("out_channels", "fusion", "in_channels", "blocks", "nb_classes"),
}


@dataclass(frozen=True, eq=True, kw_only=True)
class OptimConfig(_Section):
    """``optim_config``: the optimiser and its schedule."""

    optimizer: str = _doc("only adam (the official recipe)", "adam")
    amsgrad: bool = _doc("Adam's amsgrad variant", False)
    base_lr: float = _doc("peak learning rate")
    lr_min: float = _doc("learning rate at the end of the cosine schedule")
    betas: list = _doc("Adam betas", [0.9, 0.999])
    weight_decay: float = _doc("Adam (L2) weight decay", 0.0)
    scheduler: str = _doc("'cosine' (stepped per batch) or 'none'", "cosine")


@dataclass(frozen=True, eq=True, kw_only=True)
class Config(_Section):
    """A whole experiment: data, model, optimiser, training loop. Official keys first."""

    database_path: str = _doc("folder holding the corpus (for la2019 the LA/ folder; see "
                              "aasist.data.corpora for each corpus's layout)")
    asv_score_path: str = _doc("eval ASV scores, relative to database_path (dev uses the dev file)",
                               "ASVspoof2019_LA_asv_scores/ASVspoof2019.LA.asv.eval.gi.trl.scores.txt")
    model_path: str = _doc("weights that evaluate/predict use when given this config without "
                           "--weights", "")
    batch_size: int = _doc("training and evaluation batch size", 24)
    num_epochs: int = _doc("training epochs (the official recipe: 100)")
    loss: str = _doc("only CCE: class-weighted cross-entropy", "CCE")
    class_weights: list = _doc("cross-entropy weights [spoof, bona fide]; official [0.1, 0.9] "
                               "balances LA's 9:1 spoof:bona fide ratio", [0.1, 0.9])
    track: str = _doc("only LA", "LA")
    eval_all_best: bool = _doc("score the eval split whenever dev EER improves", True)
    eval_output: str = _doc("file name of the final eval score file", "eval_scores.txt")
    cudnn_deterministic_toggle: bool = _doc("torch.backends.cudnn.deterministic", True)
    cudnn_benchmark_toggle: bool = _doc("torch.backends.cudnn.benchmark", False)
    freq_aug: bool = _doc("mask random sinc bands during training (official option)", False)
    model_config: ModelConfig = _doc("model hyper-parameters (see ModelConfig)")
    optim_config: OptimConfig = _doc("optimiser hyper-parameters (see OptimConfig)")
    # --- our additions, all optional ---
    seed: int = _doc("seed for python, numpy, torch and DataLoader workers (official default)", 1234)
    num_workers: int = _doc("DataLoader worker processes; -1 = 0 with use_cache, else 2", -1)
    use_cache: bool = _doc("decode each split once into a memory-mapped int16 cache", False)
    cache_dir: str = _doc("where the decoded cache lives (default: <database_path>/.cache)", "")
    amp: bool = _doc("mixed precision on CUDA (bf16 where supported, else fp16); ignored on CPU", False)
    swa: bool = _doc("average the best-dev snapshots (SWA) and update BatchNorm at the end", True)
    max_train_items: int = _doc("use only the first N training utterances (0 = all); for quick "
                                "checks", 0)
    eval_splits: list = _doc("splits scored after training", ["eval"])
    mini_corpus: bool = _doc("generate the synthetic mini corpus at database_path when absent", False)
    mini_seed: int = _doc("seed of the generated mini corpus", 0)
    corpus: str = _doc("which corpus database_path holds: la2019, la2021, df2021, itw, asvspoof5 "
                       "(training needs one with a train split: la2019, asvspoof5)", "la2019")
    max_dev_items: int = _doc("score only the first N dev utterances after each epoch (0 = all); "
                              "the ASVspoof 5 baseline validates on 2,000", 0)
    init_weights: str = _doc("weights training starts from instead of a random init "
                             "(fine-tuning): a .pth, a run's checkpoint.pt, or official:AASIST / "
                             "official:AASIST-L", "")
    augment: list = _doc("training-only augmentation: a list of {name, p, parameters} (rawboost, "
                         "codec, telephone, noise, reverb, bandlimit, packet_loss); [] = none", [])


# Keys whose value must be one of a few names (case-insensitive for the optimiser, as officially).
CHOICES: dict[str, tuple[str, ...]] = {
    "loss": ("CCE",),
    "track": ("LA",),
    "model_config.architecture": tuple(ARCHITECTURES),
    "optim_config.optimizer": ("adam",),
    "optim_config.scheduler": ("cosine", "none"),
}
_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


def describe(cls: type = Config, prefix: str = "") -> dict[str, str]:
    """``{key: what it does}`` for every key of a config section, nested ones dotted."""
    hints = get_type_hints(cls)
    out = {}
    for f in fields(cls):
        out[prefix + f.name] = f.metadata["doc"]
        if is_dataclass(hints[f.name]):
            out.update(describe(hints[f.name], prefix + f.name + "."))
    return out


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
        return copy.deepcopy(value)
    raise ConfigError(f"config key '{name}' must be {kind.__name__}, got {value!r}")


def _section(cls: type, data: Any, prefix: str) -> Any:
    """Build the dataclass ``cls`` from a mapping: unknown, missing and mistyped keys are
    ConfigErrors naming the key (dotted for nested sections)."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"config key '{prefix.rstrip('.')}' must be dict, got {data!r}")
    names = _field_names(cls)
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ConfigError(f"unknown config key '{prefix}{unknown[0]}'; valid keys: "
                          + ", ".join(prefix + k for k in names))
    hints = get_type_hints(cls)
    values = {}
    for f in fields(cls):
        name = prefix + f.name
        if f.name not in data:
            if f.default is MISSING and f.default_factory is MISSING:
                raise ConfigError(f"config key '{name}' is missing (it is required)")
            continue
        kind = hints[f.name]
        values[f.name] = (_section(kind, data[f.name], name + ".") if is_dataclass(kind)
                          else _coerce(data[f.name], kind, name))
    return cls(**values)


def validate_config(config: Mapping[str, Any]) -> Config:
    """The one validator: keys, types, choices, ranges, the model's shape and window.

    Takes a raw mapping (JSON) or a Config; returns a new, normalised :class:`Config`.
    """
    if isinstance(config, _Section):
        config = config.to_dict()
    config = _section(Config, config, "")
    for name, valid in CHOICES.items():
        section, _, key = name.rpartition(".")
        value = (config[section] if section else config)[key]
        if value.lower() not in {v.lower() for v in valid}:
            raise ConfigError(f"config key '{name}' must be one of {', '.join(valid)}, got {value!r}")
    for key in ("batch_size", "num_epochs"):
        if config[key] < 1:
            raise ConfigError(f"config key '{key}' must be at least 1, got {config[key]}")
    if config.num_workers < -1:
        raise ConfigError(f"num_workers must be -1 (automatic) or at least 0, got {config.num_workers}")
    weights = config.class_weights
    if len(weights) != 2 or not all(isinstance(w, (int, float)) and w > 0 for w in weights):
        raise ConfigError(f"class_weights must be two positive numbers [spoof, bona fide], got {weights!r}")
    bad_splits = set(config.eval_splits) - {"dev", "eval"}
    if bad_splits:
        raise ConfigError(f"eval_splits may hold 'dev' and 'eval', got {sorted(bad_splits)}")
    if config.corpus not in CORPORA:
        raise ConfigError(f"config key 'corpus' must be one of {', '.join(CORPORA)}, "
                          f"got {config.corpus!r}")
    if config.max_dev_items < 0:
        raise ConfigError(f"max_dev_items must be 0 (all) or more, got {config.max_dev_items}")
    _check_model(config.model_config)
    augment = _validate_augment(config.augment)
    return config if augment == config.augment else replace(config, augment=augment)


def validate_model_config(model_config: Mapping[str, Any]) -> ModelConfig:
    """:func:`validate_config`'s checks of a ``model_config`` section alone."""
    if not isinstance(model_config, ModelConfig):
        model_config = _section(ModelConfig, model_config, "model_config.")
    valid = CHOICES["model_config.architecture"]
    if model_config.architecture not in valid:
        raise ConfigError(f"config key 'model_config.architecture' must be one of "
                          f"{', '.join(valid)}, got {model_config.architecture!r}")
    _check_model(model_config)
    return model_config


def _check_model(mc: ModelConfig) -> None:
    """Each architecture's own keys: present where required, none of another architecture's."""
    arch = next((a for a in ARCHITECTURE_KEYS if a.lower() == mc.architecture.lower()),
                mc.architecture)
    foreign = {other: [k for k in keys if getattr(mc, k) is not None]
               for other, keys in ARCHITECTURE_KEYS.items() if other != arch}
    for other, keys in foreign.items():
        if keys:
            raise ConfigError(f"{', '.join('model_config.' + k for k in keys)} "
                              f"{'belongs' if len(keys) == 1 else 'belong'} to {other}, not to "
                              f"this {arch} config; remove {'it' if len(keys) == 1 else 'them'} "
                              f"(or set model_config.architecture to {other})")
    if arch == "RawGAT-ST":
        _check_rawgat(mc)
    else:
        _check_aasist(mc)


def _require(mc: ModelConfig, keys: Iterable[str], arch: str) -> None:
    for key in keys:
        if getattr(mc, key) is None:
            raise ConfigError(f"config key 'model_config.{key}' is missing (it is required "
                              f"for {arch})")


def _check_aasist(mc: ModelConfig) -> None:
    """The network's shape lists, and windows at least as long as the network takes."""
    _require(mc, ARCHITECTURE_KEYS["AASIST"], "AASIST")
    filts = mc.filts
    if not (len(filts) == 5 and isinstance(filts[0], int)
            and all(isinstance(f, list) and len(f) == 2 for f in filts[1:])):
        raise ConfigError(f"model_config.filts must be [n_sinc, [in, out] x 4], got {filts!r}")
    for key, n in (("gat_dims", 2), ("pool_ratios", 4), ("temperatures", 4)):
        if len(mc[key]) < n:
            raise ConfigError(f"model_config.{key} needs {n} values, got {mc[key]!r}")
    if mc.eval_nb_samp < 0:
        raise ConfigError(f"model_config.eval_nb_samp must be 0 (= nb_samp) or a number of "
                          f"samples, got {mc.eval_nb_samp}")
    shortest = min_input_samples(mc.first_conv)
    # nb_samp always; eval_nb_samp only where set (0 = nb_samp)
    for key in ("nb_samp", "eval_nb_samp") if mc.eval_nb_samp else ("nb_samp",):
        if mc[key] < shortest:
            raise ConfigError(f"model_config.{key}={mc[key]} is shorter than the {shortest} "
                              f"samples this architecture needs")


def _check_rawgat(mc: ModelConfig) -> None:
    """RawGAT-ST: its keys, a channel chain its encoder can build, graphs its pooling keeps
    (at least 2 nodes each, as the authors' code does), and one fixed window."""
    _require(mc, ("out_channels", "fusion"), "RawGAT-ST")
    if mc.fusion not in rawgat.FUSIONS:
        raise ConfigError(f"model_config.fusion must be one of {', '.join(rawgat.FUSIONS)}, "
                          f"got {mc.fusion!r}")
    for key, fixed in (("in_channels", 1), ("nb_classes", 2), ("blocks", list(rawgat.BLOCKS))):
        if getattr(mc, key) not in (None, fixed):
            raise ConfigError(f"model_config.{key} must be {fixed} for RawGAT-ST (the network "
                              f"is built for it), got {getattr(mc, key)!r}")
    filts = mc.filts
    pairs = filts[1:]
    if not (len(filts) == 4 and isinstance(filts[0], int) and all(
            isinstance(f, list) and len(f) == 2 and all(isinstance(c, int) and c > 0 for c in f)
            for f in pairs)):
        raise ConfigError(f"model_config.filts must be [unused, [in, out] x 3] for RawGAT-ST, "
                          f"got {filts!r}")
    (a_in, a_out), (b_in, b_out), (c_in, c_out) = pairs
    if not (a_in == a_out == b_in and b_out == c_in == c_out):
        raise ConfigError(f"model_config.filts {filts!r}: RawGAT-ST's blocks are filts[1] x 2, "
                          f"filts[2], filts[3] x 3, so each block's input must be the previous "
                          f"block's output (e.g. [32, [32, 32], [32, 64], [64, 64]])")
    n_freq, _ = rawgat.graph_sizes(mc.nb_samp, mc.first_conv, mc.out_channels)
    if int(n_freq * rawgat.POOL_SPECTRAL) < 2:
        raise ConfigError(f"model_config.out_channels={mc.out_channels} is too few sinc bands "
                          f"for RawGAT-ST's spectral graph (at least 12)")
    shortest = rawgat.min_window(mc.first_conv)
    if mc.nb_samp < shortest:
        raise ConfigError(f"model_config.nb_samp={mc.nb_samp} is shorter than the {shortest} "
                          f"samples this architecture needs")
    if mc.eval_nb_samp not in (0, mc.nb_samp):
        raise ConfigError(f"model_config.eval_nb_samp must be 0 (= nb_samp) for RawGAT-ST, "
                          f"got {mc.eval_nb_samp}: the network takes exactly nb_samp samples "
                          f"(its graph layers are sized for them)")


def loader_workers(config: Mapping[str, Any], clip_work: bool = False) -> int:
    """DataLoader workers for ``config``: its ``num_workers``, or the automatic choice (-1).

    With the decoded cache an item is a memory copy, and worker processes only add the cost of
    shipping each batch between processes (``python -m experiments.benchmark --sections
    data``: 0 workers about 5x faster than 2 on a 2-core CPU), so loading stays in-process;
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
    """A plain-dict copy of ``config`` with ``KEY=VALUE`` overrides applied (not yet validated)."""
    config = config.to_dict() if isinstance(config, _Section) else copy.deepcopy(dict(config))
    for text in overrides:
        path, value = parse_override(text)
        cls, node = Config, config
        for depth, part in enumerate(path):
            names = _field_names(cls)
            if part not in names:
                prefix = ".".join(path[:depth])
                valid = ", ".join((prefix + "." if prefix else "") + k for k in names)
                raise ConfigError(f"unknown config key '{'.'.join(path)}'; valid keys: {valid}")
            if depth == len(path) - 1:
                node[part] = value
            else:
                kind = get_type_hints(cls)[part]
                if not is_dataclass(kind):
                    raise ConfigError(f"config key '{part}' has no nested keys")
                node = node.setdefault(part, {})
                cls = kind
    return config


def with_overrides(config: Mapping[str, Any], overrides: Iterable[str]) -> Config:
    """``config`` with ``KEY=VALUE`` overrides applied, validated."""
    return validate_config(apply_overrides(config, overrides))


# --------------------------------------------------------------------------- files and names

def _bundled_dir() -> Path:
    """The folder of the bundled configs: ``aasist/configs`` in an installed package (built
    from the repository's ``config/``), else the repository's ``config/`` itself."""
    here = Path(__file__).resolve().parent
    installed = here / "configs"
    return installed if installed.is_dir() else here.parent / "config"


def bundled_configs() -> dict[str, Path]:
    """``{name: file}`` of the configs shipped with the package (``mini``, ``AASIST-L``, ...)."""
    folder = _bundled_dir()
    return {p.stem: p for p in sorted(folder.glob("*.conf"))} if folder.is_dir() else {}


def config_path(name_or_path: PathLike) -> Path:
    """A config file path, or a bundled config's name (``"mini"``, ``"AASIST-L.conf"``) -> its file.

    An existing file always wins; a bare name (no folder) that is not a file is looked up
    among :func:`bundled_configs`; anything else is returned as it is (reading it then
    fails with a message that lists the bundled names).
    """
    path = Path(name_or_path)
    if path.exists() or len(path.parts) != 1:
        return path
    name = path.stem if path.suffix == ".conf" else path.name
    return bundled_configs().get(name, path)


def load_config(path: PathLike, overrides: Iterable[str] = ()) -> Config:
    """Read a `.conf` (JSON) file or a bundled config by name, apply overrides, validate."""
    path = config_path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found; give a .conf file or the name of "
                          f"a bundled config: {', '.join(bundled_configs()) or '(none)'}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a config file; give a .conf file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file; a config is a JSON .conf file") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config ({exc.strerror or exc})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config must be a JSON object")
    try:
        return validate_config(apply_overrides(raw, overrides))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def save_config(config: Mapping[str, Any], path: PathLike) -> None:
    """Write a resolved config as pretty JSON (loadable by :func:`load_config`), atomically."""
    data = config.to_dict() if isinstance(config, _Section) else dict(config)
    with atomic_write(path) as fh:
        fh.write(json.dumps(data, indent=4) + "\n")


__all__ = ["ARCHITECTURE_KEYS", "CHOICES", "Config", "ModelConfig", "OptimConfig", "apply_overrides",
           "bundled_configs", "config_path", "describe", "load_config", "loader_workers", "parse_override",
           "save_config", "validate_config", "validate_model_config", "with_overrides"]
