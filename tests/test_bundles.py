"""The bundled models beyond clovaai's: AASIST-ASVspoof5 and RawGAT-ST mul/add/cat.

Pins and strict loads, `predict --model` against the authors' logits
(tests/data/bundle_parity.npz, written by scripts/make_bundle_references.py from the authors'
code), `aasist models`, the per-architecture config validator, and RawGAT-ST's windowing.
"""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch

import aasist
from aasist import pretrained
from aasist.config import load_config, save_config, validate_model_config
from aasist.data.audio import repeat_pad
from aasist.errors import ConfigError
from aasist.nn import count_parameters
from aasist.predict import Detector

from conftest import CONFIG_DIR, DATA, load_script, run_cli

BUNDLE_PARITY = DATA / "bundle_parity.npz"
NEW = ("AASIST-ASVspoof5", "RawGAT-ST-mul", "RawGAT-ST-add", "RawGAT-ST-cat")
RAWGAT = [n for n in NEW if n.startswith("RawGAT")]


@pytest.fixture(scope="module")
def reference():
    """(inputs (6, 64600): 3 speech-like noise clips then 3 real clips, the authors' logits)."""
    ref = np.load(BUNDLE_PARITY)
    script = load_script("make_bundle_references")
    inputs = script.parity_inputs()
    noise = inputs[:int(ref["n_noise"])].astype(np.float64)
    assert noise.sum() == float(ref["noise_sum"]), "the noise clips no longer regenerate exactly"
    assert np.abs(noise).sum() == float(ref["noise_abs_sum"])
    return inputs, {n: ref[f"{n}/logits"] for n in NEW}


@pytest.fixture(scope="module")
def rawgat_mul():
    return Detector(model="RawGAT-ST-mul")


# --------------------------------------------------------------------------- files and registry


@pytest.mark.parametrize("name", sorted(pretrained.BUNDLES))
def test_each_bundle_matches_its_pin_and_loads_strictly(name):
    b = pretrained.bundle(name)
    assert b.weights.stat().st_size < 2_000_000
    assert pretrained.sha256_of(b.weights) == b.sha256
    assert b.sha256 in b.licence_path.read_text()  # the licence beside it names the file's hash
    assert b.source_url.startswith("https://github.com/") and b.licence.startswith("MIT")
    model = aasist.get_model(name)
    assert not model.training and count_parameters(model) == b.parameters
    state = torch.load(b.weights, map_location="cpu", weights_only=True)
    assert set(state) == set(model.state_dict())  # the authors' key names, nothing more or less
    assert load_config(b.config)["model_config"]["architecture"] == b.architecture


def test_official_prefix_and_model_name_select_every_bundle(tmp_path):
    for name, b in pretrained.BUNDLES.items():
        assert pretrained.resolve(None, f"official:{name}") == (b.config, b.weights)
        assert pretrained.resolve(model=name) == (b.config, b.weights)
        assert pretrained.bundle(f"official:{name}") is b
        assert pretrained.model_name(b.weights) == name == pretrained.model_name(f"official:{name}")
    assert pretrained.resolve() == (pretrained.bundle("AASIST-L").config,
                                    pretrained.bundle("AASIST-L").weights)  # still the default
    assert set(pretrained.OFFICIAL) == {"AASIST", "AASIST-L"}  # what download --pretrained fetches
    with pytest.raises(ConfigError, match="--model RawGAT-ST-mul and --weights x.pth both"):
        pretrained.resolve(None, "x.pth", model="RawGAT-ST-mul")
    with pytest.raises(ConfigError, match="unknown model 'RawNet2'.*AASIST-L.*RawGAT-ST-cat"):
        pretrained.resolve(model="RawNet2")
    copy = tmp_path / "mine.pth"  # own weights are named by their path, even a bundle's bytes
    shutil.copy(pretrained.bundle("RawGAT-ST-add").weights, copy)
    assert pretrained.resolve(None, copy) == (pretrained.bundle("RawGAT-ST-add").config, copy)
    assert pretrained.model_name(copy) == str(copy)


def test_rawgat_training_config_is_the_mul_bundle_model():
    recipe = load_config(CONFIG_DIR / "RawGAT-ST.conf")
    assert recipe["model_config"] == load_config(pretrained.bundle("RawGAT-ST-mul").config)["model_config"]
    assert recipe["batch_size"] == 10 and recipe["num_epochs"] == 300 and recipe["freq_aug"] is True
    optim = recipe["optim_config"]
    assert (optim["base_lr"], optim["weight_decay"], optim["scheduler"]) == (1e-4, 1e-4, "none")
    assert recipe["class_weights"] == [0.1, 0.9] and recipe["model_path"] == "official:RawGAT-ST-mul"


# --------------------------------------------------------------------------- parity via predict


def _predict(capsys, tmp_path, name, clips):
    paths = []
    for i, clip in enumerate(clips):
        paths.append(tmp_path / f"clip{i}.wav")
        sf.write(paths[-1], clip, 16000, subtype="FLOAT")  # exactly the 64,600 float samples
    result = run_cli(capsys, "predict", "--model", name, "--quiet", *paths)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["path"] for r in rows] == [str(p) for p in paths]
    assert all(r["model"] == name and r["windows"] == 1 for r in rows)
    return np.array([r["score"] for r in rows])


@pytest.mark.parametrize("name", NEW)
def test_predict_model_gives_the_authors_logits(capsys, tmp_path, reference, name):
    """One noise clip and one real clip, batched together: the authors' column-1 logit."""
    inputs, logits = reference
    pick = [0, 3]
    scores = _predict(capsys, tmp_path, name, inputs[pick])
    np.testing.assert_allclose(scores, logits[name][pick, 1], atol=1e-4, rtol=0)


@pytest.mark.slow
@pytest.mark.parametrize("name", NEW)
def test_predict_model_gives_the_authors_logits_on_every_reference_clip(capsys, tmp_path,
                                                                        reference, name):
    inputs, logits = reference
    scores = _predict(capsys, tmp_path, name, inputs)
    np.testing.assert_allclose(scores, logits[name][:, 1], atol=1e-4, rtol=0)


# --------------------------------------------------------------------------- aasist models


def test_models_lists_every_bundle(capsys):
    result = run_cli(capsys, "models")
    assert result.returncode == 0, result.stderr
    header, rule, *lines = result.stdout.splitlines()
    assert header.split()[:2] == ["name", "architecture"] and "licence" in header
    for name, b in pretrained.BUNDLES.items():
        line = next(row for row in lines if row.split()[:1] == [name])
        for cell in (b.architecture, b.training_data, f"{b.parameters:,}", b.published, b.licence):
            assert cell in line
    rows = json.loads(run_cli(capsys, "models", "--json").stdout)
    assert [r["name"] for r in rows] == list(pretrained.BUNDLES)
    ours = {r["name"]: r for r in rows}["RawGAT-ST-cat"]
    assert ours["parameters"] == 445_546 and ours["sha256"] == pretrained.bundle("RawGAT-ST-cat").sha256
    assert ours["published"].startswith("EER 1.24 %") and "2107.12710" in ours["published_source"]


def test_model_and_weights_together_is_a_cli_error(capsys):
    result = run_cli(capsys, "predict", "--model", "RawGAT-ST-mul", "--weights", "official:AASIST",
                     "x.wav")
    assert result.returncode == 1 and "give one of them" in result.stderr
    result = run_cli(capsys, "predict", "--model", "RawNet2", "x.wav")
    assert result.returncode == 1 and "the bundled models are: AASIST, AASIST-L" in result.stderr


# --------------------------------------------------------------------------- config validator


def _rawgat_config(**changes) -> dict:
    model_config = dict(load_config("RawGAT-ST")["model_config"])
    model_config.update(changes)
    return {k: v for k, v in model_config.items() if v is not None}


def test_validator_rejects_keys_of_the_other_architecture():
    with pytest.raises(ConfigError, match=r"model_config.out_channels, model_config.fusion "
                                          r"belong to RawGAT-ST, not to this AASIST config"):
        load_config("AASIST-L", ["model_config.out_channels=70", "model_config.fusion=mul"])
    with pytest.raises(ConfigError, match=r"model_config.gat_dims belongs to AASIST, not to this "
                                          r"RawGAT-ST config"):
        load_config("RawGAT-ST", ["model_config.gat_dims=[64, 32]"])
    with pytest.raises(ConfigError, match="model_config.temperatures"):
        validate_model_config(_rawgat_config(temperatures=[2.0, 2.0, 100.0, 100.0]))


@pytest.mark.parametrize("changes,message", [
    ({"fusion": None}, "'model_config.fusion' is missing .*RawGAT-ST"),
    ({"fusion": "max"}, "fusion must be one of mul, add, cat"),
    ({"blocks": [2, 3]}, "blocks must be \\[2, 4\\]"),
    ({"in_channels": 2}, "in_channels must be 1"),
    ({"filts": [32, [32, 32], [16, 64], [64, 64]]}, "each block's input must be the previous"),
    ({"filts": [70, [1, 32], [32, 32], [32, 64], [64, 64]]}, "filts must be \\[unused, \\[in, out\\] x 3\\]"),
    ({"out_channels": 9}, "too few sinc bands"),
    ({"nb_samp": 6000}, "nb_samp=6000 is shorter than the 6689 samples"),
    ({"eval_nb_samp": 96000}, "eval_nb_samp must be 0 \\(= nb_samp\\) for RawGAT-ST"),
])
def test_validator_checks_rawgat_keys(changes, message):
    with pytest.raises(ConfigError, match=message):
        validate_model_config(_rawgat_config(**changes))


def test_aasist_checks_unchanged_and_configs_round_trip(tmp_path):
    with pytest.raises(ConfigError, match="'model_config.gat_dims' is missing"):
        validate_model_config({k: v for k, v in load_config("AASIST-L")["model_config"].items()
                               if k != "gat_dims"})
    for name in ("AASIST-L", "RawGAT-ST"):  # unset keys of the other architecture stay unset
        config = load_config(name)
        save_config(config, tmp_path / f"{name}.conf")
        assert load_config(tmp_path / f"{name}.conf") == config
    assert "gat_dims" not in load_config("RawGAT-ST")["model_config"]
    assert "fusion" not in load_config("AASIST-L").to_dict()["model_config"]


# --------------------------------------------------------------------------- the network


def test_rawgat_variants_differ_only_in_the_fusion():
    nets = {f: aasist.build_model(_rawgat_config(fusion=f)) for f in ("mul", "add", "cat")}
    shapes = {f: {k: tuple(v.shape) for k, v in n.state_dict().items()} for f, n in nets.items()}
    assert shapes["mul"] == shapes["add"]
    differ = {k for k in shapes["mul"] if shapes["mul"][k] != shapes["cat"][k]}
    assert differ and all(k.split(".")[0] in {"GAT_layer3", "pool3", "proj"} for k in differ)
    assert nets["mul"].conv_time.max_mask == 14  # the authors' Freq_aug masks 0-13 bands
    with pytest.raises(ValueError, match="takes exactly 64600"):
        nets["mul"](torch.zeros(1, 64000))


@pytest.mark.slow
def test_rawgat_trains_and_leaves_the_unused_layers_alone():
    """One training step with Freq_aug on a short window (8,000 samples: 3 temporal nodes):
    every used parameter gets a gradient, the authors' unused bn1/conv_1 none and stay put."""
    torch.manual_seed(0)
    model = aasist.build_model(_rawgat_config(nb_samp=8000)).train()
    unused = {k for k in model.state_dict() if (".bn1." in k or ".conv_1." in k)
              and not k.startswith(("encoder1.0.", "encoder2.0."))}
    before = {k: v.clone() for k, v in model.state_dict().items() if k in unused}
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    loss = torch.nn.functional.cross_entropy(model(torch.randn(2, 8000), freq_aug=True),
                                             torch.tensor([0, 1]))
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    for name, param in model.named_parameters():
        assert (param.grad is None) == (name in unused), name
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in before.items())


@pytest.mark.slow
def test_rawgat_scores_long_and_short_audio_through_the_shared_windows(rawgat_mul):
    """Short audio is repeat-padded to 64,600 samples; longer audio is cut into 64,600-sample
    windows every hop (the last aligned to the end); the file gets its least bona fide window."""
    det = rawgat_mul
    assert det.nb_samp == 64600 and det.model_name == "RawGAT-ST-mul"
    rng = np.random.RandomState(0)
    short = (0.1 * rng.randn(16000)).astype(np.float32)
    result = det.score(short, sample_rate=16000, timeline=True)
    with torch.inference_mode():
        expected = det.model(torch.from_numpy(repeat_pad(short, 64600))[None])[0].numpy()
    assert result["windows"] == 1 and result["model"] == "RawGAT-ST-mul"
    assert result["score"] == pytest.approx(float(expected[1]), abs=1e-4)
    long = (0.1 * rng.randn(80000)).astype(np.float32)
    result = det.score(long, sample_rate=16000, timeline=True)
    starts = [0, 80000 - 64600]  # default hop: half a window
    assert [w["start_s"] for w in result["timeline"]] == [s / 16000 for s in starts]
    with torch.inference_mode():
        windows = det.model(torch.from_numpy(np.stack([long[s:s + 64600] for s in starts]))).numpy()
    np.testing.assert_allclose([w["score"] for w in result["timeline"]], windows[:, 1], atol=1e-4)
    worst = int(np.argmin(windows[:, 1] - windows[:, 0]))
    assert result["score"] == pytest.approx(float(windows[worst, 1]), abs=1e-4)


@pytest.mark.slow
def test_evaluate_scores_the_first_window_with_a_bundled_rawgat(capsys, tmp_path):
    from conftest import make_mini_corpus
    from aasist.data.audio import read_audio

    root = make_mini_corpus("la2019", tmp_path / "corpus",
                            sizes={"train": (1, 1), "dev": (1, 1), "eval": (2, 2)})
    out = tmp_path / "out"
    result = run_cli(capsys, "evaluate", "--model", "RawGAT-ST-add", "--root", root,
                     "--split", "eval", "--out", out, "--set", "num_workers=0")
    assert result.returncode == 0, result.stderr
    lines = (out / "eval_scores.txt").read_text().split("\n")
    utt, _, _, score = lines[0].split()
    x, _ = read_audio(next(root.rglob(f"{utt}.flac")))
    model = aasist.get_model("RawGAT-ST-add")
    with torch.inference_mode():
        expected = model(torch.from_numpy(repeat_pad(x, 64600))[None])[0, 1].item()
    assert float(score) == pytest.approx(expected, abs=1e-4)
