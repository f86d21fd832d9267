"""Print how far the bundled AASIST-ASVspoof5 and RawGAT-ST models are from their authors' logits.

Usage:
    python -m scripts.check_bundle_parity

Against ``tests/data/bundle_parity.npz`` (from ``scripts.make_bundle_references``): the 6
reference inputs (3 speech-like noise clips, 3 real clips) as one batch through
``aasist.get_model(name)`` (both logit columns), and as 6 float WAV files through
``aasist predict --model NAME``'s path (:class:`aasist.Detector` and ``predict_paths``; the
score is column 1). Prints max |difference| per model and input kind (docs/models.md).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

import aasist
from aasist.predict import Detector, predict_paths
from scripts.make_bundle_references import N_NOISE, parity_inputs

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "data" / "bundle_parity.npz"
NAMES = ("AASIST-ASVspoof5", "RawGAT-ST-mul", "RawGAT-ST-add", "RawGAT-ST-cat")


def main() -> None:
    ref = np.load(FIXTURE)
    inputs = parity_inputs()
    kinds = {"noise": slice(0, N_NOISE), "real": slice(N_NOISE, len(inputs))}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; reference: torch "
          f"{ref['torch_version']}")
    print(f"{'model':<18} {'input':<6} {'max|logit diff| (forward)':>26} {'max|score diff| (predict)':>26}")
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, clip in enumerate(inputs):
            paths.append(Path(tmp) / f"clip{i}.wav")
            sf.write(paths[-1], clip, 16000, subtype="FLOAT")
        for name in NAMES:
            expected = ref[f"{name}/logits"]
            with torch.inference_mode():
                logits = aasist.get_model(name)(torch.from_numpy(inputs)).numpy()
            scores = np.array([r["score"] for r in predict_paths(Detector(model=name), paths,
                                                                   progress=False)])
            for kind, rows in kinds.items():
                forward = np.abs(logits[rows] - expected[rows]).max()
                predict = np.abs(scores[rows] - expected[rows, 1]).max()
                print(f"{name:<18} {kind:<6} {forward:>26.2e} {predict:>26.2e}")


if __name__ == "__main__":
    main()
