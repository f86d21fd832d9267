"""Config loading: official format, validation, booleans, overrides."""
from __future__ import annotations

import json
import os

import pytest

from aasist.config import load_config, loader_workers, save_config
from aasist.errors import ConfigError
from conftest import CONFIG_DIR


def test_shipped_configs_load_with_official_recipe():
    for path in sorted(CONFIG_DIR.glob("*.conf")):
        config = load_config(path)
        assert config["optim_config"]["base_lr"] > 0, path
    full = load_config(CONFIG_DIR / "AASIST.conf")
    assert full["num_epochs"] == 100 and full["batch_size"] == 24
    assert full["eval_all_best"] is True and full["optim_config"]["amsgrad"] is False
    assert load_config(CONFIG_DIR / "AASIST-L_ep10.conf")["num_epochs"] == 10


def _write(tmp_path, config) -> str:
    path = tmp_path / "x.conf"
    path.write_text(json.dumps(config))
    return path


def _base() -> dict:
    return json.loads((CONFIG_DIR / "AASIST-L.conf").read_text())


def test_real_booleans_and_official_strings(tmp_path):
    config = _base()
    config["eval_all_best"] = False
    config["cudnn_benchmark_toggle"] = "True"
    loaded = load_config(_write(tmp_path, config))
    assert loaded["eval_all_best"] is False and loaded["cudnn_benchmark_toggle"] is True


def test_unknown_key_lists_valid_ones(tmp_path):
    config = _base()
    config["num_epoch"] = 3
    with pytest.raises(ConfigError, match=r"unknown config key 'num_epoch'; valid keys: .*num_epochs"):
        load_config(_write(tmp_path, config))
    config = _base()
    config["model_config"]["gat_dim"] = [1, 2]
    with pytest.raises(ConfigError, match=r"model_config.gat_dim'.*model_config.gat_dims"):
        load_config(_write(tmp_path, config))


@pytest.mark.parametrize("key,value,message", [
    ("num_epochs", "ten", "'num_epochs' must be int"),
    ("num_epochs", True, "'num_epochs' must be int"),
    ("batch_size", 0, "at least 1"),
    ("eval_all_best", "maybe", "'eval_all_best' must be bool"),
    ("model_config", [], "'model_config' must be dict"),
])
def test_wrong_types_name_the_key(tmp_path, key, value, message):
    config = _base()
    config[key] = value
    with pytest.raises(ConfigError, match=message):
        load_config(_write(tmp_path, config))


def test_missing_required_key(tmp_path):
    config = _base()
    del config["model_config"]["nb_samp"]
    with pytest.raises(ConfigError, match="'model_config.nb_samp' is missing"):
        load_config(_write(tmp_path, config))


def test_overrides_top_level_nested_and_typed():
    config = load_config(CONFIG_DIR / "AASIST-L.conf",
                         ["num_epochs=10", "optim_config.base_lr=2e-4", "use_cache=true",
                          "model_config.nb_samp=16000", "database_path=/data/LA"])
    assert config["num_epochs"] == 10 and config["optim_config"]["base_lr"] == 2e-4
    assert config["use_cache"] is True and config["model_config"]["nb_samp"] == 16000
    assert config["database_path"] == "/data/LA"


@pytest.mark.parametrize("override,message", [
    ("num_epochs", "KEY=VALUE"),
    ("epochs=3", "unknown config key 'epochs'; valid keys"),
    ("optim_config.lr=1", "unknown config key 'optim_config.lr'; valid keys: optim_config.optimizer"),
    ("num_epochs.x=1", "has no nested keys"),
    ("num_epochs=1.5", "must be int"),
    ("loss=focal", "'loss' must be one of CCE, got 'focal'"),
    ("track=PA", "'track' must be one of LA"),
    ("optim_config.optimizer=sgd", "'optim_config.optimizer' must be one of adam"),
    ("optim_config.scheduler=step", "must be one of cosine, none"),
    ("model_config.architecture=RawNet2", "must be one of AASIST"),
])
def test_bad_overrides(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(CONFIG_DIR / "AASIST-L.conf", [override])


def test_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.conf")
    bad = tmp_path / "bad.conf"
    bad.write_text('{"num_epochs": 1,\n oops}')
    with pytest.raises(ConfigError, match=r"bad.conf:2: not valid JSON"):
        load_config(bad)


def test_resolved_config_round_trips(tmp_path):
    config = load_config(CONFIG_DIR / "AASIST.conf", ["num_epochs=3"])
    save_config(config, tmp_path / "resolved.conf")
    assert load_config(tmp_path / "resolved.conf") == config


def test_loader_workers_automatic_and_explicit():
    conf = CONFIG_DIR / "AASIST-L.conf"
    assert loader_workers(load_config(conf)) == 2  # FLAC decoding: overlap it in workers
    assert loader_workers(load_config(conf, ["use_cache=true"])) == 0  # cache: in-process
    assert loader_workers(load_config(conf, ["use_cache=true", "num_workers=3"])) == 3
    # per-clip augmentation is real work even from the cache: one worker per core, up to 8
    cached = load_config(conf, ["use_cache=true"])
    assert loader_workers(cached, clip_work=True) == max(2, min(os.cpu_count(), 8))
    assert loader_workers(load_config(conf, ["use_cache=true", "num_workers=0"]), clip_work=True) == 0
    with pytest.raises(ConfigError, match="num_workers"):
        load_config(conf, ["num_workers=-2"])
