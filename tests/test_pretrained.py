"""The bundled official checkpoints: pins, config resolution, offline default scoring."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

import aasist
from aasist import pretrained
from aasist.config import load_config
from aasist.errors import ConfigError
from conftest import CONFIG_DIR, PARITY, ROOT


@pytest.mark.parametrize("name", sorted(pretrained.OFFICIAL))
def test_bundled_files_match_their_pins_and_recipes(name):
    ckpt = pretrained.official(name)
    assert pretrained.sha256_of(ckpt.weights) == ckpt.sha256
    # the bundled config is the official one; config/<name>.conf is the same model
    assert load_config(ckpt.config)["model_config"] == load_config(CONFIG_DIR / f"{name}.conf")["model_config"]
    assert ckpt.sha256 in (ckpt.weights.parent / "LICENSE").read_text()


def test_resolve_rules(tmp_path):
    default = pretrained.official("AASIST-L")
    assert pretrained.resolve() == (default.config, default.weights)
    # a config alone: its model_path, as the official --eval mode reads it
    assert pretrained.resolve(CONFIG_DIR / "AASIST-L.conf") == (CONFIG_DIR / "AASIST-L.conf",
                                                                 default.weights)
    missing = tmp_path / "m.conf"
    missing.write_text((CONFIG_DIR / "AASIST-L.conf").read_text().replace(
        '"official:AASIST-L"', '"./nowhere/AASIST-L.pth"'))
    with pytest.raises(ConfigError, match="model_path ./nowhere/AASIST-L.pth does not exist"):
        pretrained.resolve(missing)
    big = pretrained.official("AASIST")
    assert pretrained.resolve(None, "official:AASIST") == (big.config, big.weights)
    assert pretrained.resolve("my.conf", "official:AASIST") == (tmp_path.__class__("my.conf"), big.weights)
    # a copy of an official file is recognised by its bytes
    copy = tmp_path / "downloaded.pth"
    shutil.copy(big.weights, copy)
    assert pretrained.resolve(None, copy) == (big.config, copy)
    # a run's weights pick the run's config
    run = tmp_path / "run"
    (run / "weights").mkdir(parents=True)
    (run / "config.conf").write_text("{}")
    own = run / "weights" / "best_dev.pth"
    own.write_bytes(b"x")
    assert pretrained.resolve(None, own) == (run.resolve() / "config.conf", own)


@pytest.mark.parametrize("config,weights,message", [
    (CONFIG_DIR / "mini.conf", None, "mini.conf: no weights given and the config sets no model_path"),
    (None, "official:RawNet2", "official:AASIST, official:AASIST-L"),
    (None, "nowhere.pth", "nowhere.pth: weights not found"),
])
def test_resolve_errors_say_what_to_do(tmp_path, config, weights, message):
    with pytest.raises(ConfigError, match=message):
        pretrained.resolve(config, weights)


def test_weights_without_a_known_config(tmp_path):
    stray = tmp_path / "stray.pth"
    stray.write_bytes(b"x")
    with pytest.raises(ConfigError, match="stray.pth: which config.*--config"):
        pretrained.resolve(None, stray)


def test_load_model_default_is_the_official_aasist_l():
    ref = np.load(PARITY)
    model = aasist.load_model()
    import torch

    with torch.inference_mode():
        logits = model(torch.from_numpy(ref["input"])).numpy()
    np.testing.assert_allclose(logits, ref["AASIST-L/logits"], atol=1e-4, rtol=0)
    assert aasist.load_model(weights="official:AASIST").d_args["gat_dims"] == [64, 32]


def _predict(*args):
    proc = subprocess.run([sys.executable, "-m", "aasist", "predict", "--quiet", *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[0])


@pytest.mark.slow
def test_predict_with_no_arguments_gives_the_official_score(tmp_path):
    """`python -m aasist predict clip.wav` = the official AASIST-L score of the clip, offline."""
    ref = np.load(PARITY)
    clip = tmp_path / "clip.wav"
    sf.write(clip, ref["input"][0], 16000, subtype="FLOAT")  # exactly 64,600 float samples
    plain = _predict(clip)
    assert plain["score"] == pytest.approx(float(ref["AASIST-L/logits"][0, 1]), abs=1e-4)
    explicit = _predict("--config", CONFIG_DIR / "AASIST-L.conf",
                        "--weights", pretrained.official("AASIST-L").weights, clip)
    assert explicit["score"] == plain["score"]
    other = _predict("--weights", "official:AASIST", clip)
    assert other["score"] == pytest.approx(float(ref["AASIST/logits"][0, 1]), abs=1e-4)
