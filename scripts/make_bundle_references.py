"""Record the authors' outputs for the bundled third-party models (test fixture).

Usage (needs checkouts of the authors' repositories; nothing of theirs is committed):
    python -m scripts.make_bundle_references --rawgat-dir PATH/TO/RawGAT-ST-antispoofing \
        --asvspoof5-dir PATH/TO/asvspoof5 [--out tests/data/bundle_parity.npz]

The authors' model code (RawGAT-ST: ``model.py`` for mul and
``RawGAT_models/model_RawGAT_ST_{add,concat}.py``; ASVspoof 5: ``Baseline-AASIST/models/AASIST.py``)
is imported from the checkouts, given the bundled checkpoints of ``aasist/pretrained/`` and
run in eval mode on one batch of 64,600-sample inputs: :func:`speech_like_noise` clips
(regenerated from :data:`NOISE_SEED` by the test, so only their checksum is stored) followed
by the clips of ``tests/data/aasist_parity.npz`` (real speech). The fixture holds the
authors' logits ``<bundle>/logits`` (B, 2) and the noise checksum; tests/test_bundles.py
compares ``aasist predict --model <bundle>`` against them.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

import numpy as np
import torch

from aasist.pretrained import bundle

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "data" / "aasist_parity.npz"
NB_SAMP = 64600
NOISE_SEED = 2107
N_NOISE = 3
SAMPLE_RATE = 16000

#: bundle name -> the authors' model file (relative to the RawGAT-ST checkout)
RAWGAT_FILES = {
    "RawGAT-ST-mul": "model.py",
    "RawGAT-ST-add": "RawGAT_models/model_RawGAT_ST_add.py",
    "RawGAT-ST-cat": "RawGAT_models/model_RawGAT_ST_concat.py",
}


def speech_like_noise(n_clips: int = N_NOISE, n_samples: int = NB_SAMP,
                      seed: int = NOISE_SEED) -> np.ndarray:
    """(n_clips, n_samples) float32 of synthetic "speech-like" noise at 16 kHz.

    Each clip: a harmonic voice (1/k partials up to 7 kHz of an f0 of 90-220 Hz that glides
    slowly) mixed with low-passed breath noise, under a 3-6 Hz syllable envelope with a few
    pauses, peak 0.3. Legacy ``np.random.RandomState`` keeps the stream fixed across NumPy
    versions, so the clips can be regenerated instead of stored.
    """
    rng = np.random.RandomState(seed)
    t = np.arange(n_samples) / SAMPLE_RATE
    clips = []
    for _ in range(n_clips):
        f0 = (90 + 130 * rng.rand()) * (1 + 0.12 * np.sin(2 * np.pi * (0.3 + 0.6 * rng.rand()) * t
                                                          + 2 * np.pi * rng.rand()))
        phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
        voice = np.zeros(n_samples)
        for k in range(1, 40):
            voice += np.where(k * f0 < 7000, np.sin(k * phase) / k, 0.0)
        breath = np.convolve(rng.randn(n_samples), np.hanning(9) / np.hanning(9).sum(), "same")
        rate = 3 + 3 * rng.rand()
        envelope = np.clip(np.sin(2 * np.pi * rate * t + 2 * np.pi * rng.rand()), 0, None) ** 0.5
        for start in rng.randint(0, n_samples - 4000, size=3):  # pauses of 0.25 s
            envelope[start:start + 4000] = 0
        x = envelope * (0.8 * voice / np.abs(voice).max() + 0.2 * breath / np.abs(breath).max())
        clips.append(0.3 * x / np.abs(x).max())
    return np.stack(clips).astype(np.float32)


def parity_inputs() -> np.ndarray:
    """(N_NOISE + 3, NB_SAMP) float32: the noise clips, then the real clips of aasist_parity.npz."""
    return np.concatenate([speech_like_noise(), np.load(REFERENCE)["input"]]).astype(np.float32)


def _import_file(path: Path, name: str):
    """Import one of the authors' files as a module of its own (no sys.path edits)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load(model: torch.nn.Module, name: str) -> torch.nn.Module:
    state = torch.load(bundle(name).weights, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()


def read_model_yaml(path: Path) -> dict:
    """The ``model:`` section of the authors' model_config_RawGAT_ST.yaml: indented
    ``key: value`` lines whose values are JSON (numbers, flow lists), ``#`` comments dropped.
    Enough for that one file, without a YAML dependency."""
    section, out = None, {}
    for line in path.read_text().splitlines():
        text = line.split("#", 1)[0].rstrip()
        if not text:
            continue
        if not text[0].isspace():
            section = text.rstrip(":").strip()
            continue
        if section == "model":
            key, value = text.strip().split(":", 1)
            out[key.strip()] = json.loads(value)
    return out


def rawgat_logits(checkout: Path, x: torch.Tensor) -> dict[str, np.ndarray]:
    d_args = read_model_yaml(checkout / "model_config_RawGAT_ST.yaml")
    out = {}
    for name, rel in RAWGAT_FILES.items():
        module = _import_file(checkout / rel, f"_authors_{name.replace('-', '_')}")
        model = _load(module.RawGAT_ST(d_args, "cpu"), name)
        with torch.no_grad():
            out[f"{name}/logits"] = model(x, Freq_aug=False).numpy()
    return out


def asvspoof5_logits(checkout: Path, x: torch.Tensor) -> dict[str, np.ndarray]:
    base = checkout / "Baseline-AASIST"
    module = _import_file(base / "models" / "AASIST.py", "_authors_asvspoof5_aasist")
    d_args = json.loads((base / "config" / "AASIST_ASVspoof5.conf").read_text())["model_config"]
    model = _load(module.Model(d_args), "AASIST-ASVspoof5")
    with torch.no_grad():
        _, logits = model(x)
    return {"AASIST-ASVspoof5/logits": logits.numpy()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rawgat-dir", required=True, type=Path,
                        help="checkout of https://github.com/eurecom-asp/RawGAT-ST-antispoofing")
    parser.add_argument("--asvspoof5-dir", required=True, type=Path,
                        help="checkout of https://github.com/asvspoof-challenge/asvspoof5")
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "bundle_parity.npz")
    args = parser.parse_args()
    torch.manual_seed(0)  # the authors' constructors draw random initial weights
    inputs = parity_inputs()
    x = torch.from_numpy(inputs)
    arrays = {**rawgat_logits(args.rawgat_dir, x), **asvspoof5_logits(args.asvspoof5_dir, x)}
    noise = inputs[:N_NOISE].astype(np.float64)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, noise_seed=np.array(NOISE_SEED), n_noise=np.array(N_NOISE),
                        noise_sum=np.array(noise.sum()), noise_abs_sum=np.array(np.abs(noise).sum()),
                        torch_version=np.array(torch.__version__), **arrays)
    print(f"wrote {args.out}: " + ", ".join(f"{k} {v.shape}" for k, v in arrays.items()))


if __name__ == "__main__":
    main()
