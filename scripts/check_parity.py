"""Print how far our model's outputs are from the official implementation's.

    python -m scripts.check_parity

Compares logits and embeddings, in eval mode with the bundled official weights, against
tests/data/aasist_parity.npz (official outputs for three 64600-sample clips) and against
tests/data/parity_lengths.npz (official outputs at 2315, 16000, 48000 and 100000 samples,
made by python -m scripts.make_parity_reference). Prints the largest absolute difference per case.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

import aasist

from .make_parity_reference import parity_inputs

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    argparse.ArgumentParser(description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    ref = np.load(ROOT / "tests" / "data" / "aasist_parity.npz")
    lengths = np.load(ROOT / "tests" / "data" / "parity_lengths.npz")
    print("model     samples  max|logit diff|  max|embedding diff|")
    for name in ("AASIST-L", "AASIST"):
        model = aasist.load_model(weights=f"official:{name}")
        cases = [(64600, ref["input"], ref[f"{name}/logits"], ref[f"{name}/hidden"])]
        cases += [(int(n), parity_inputs(ref["input"], int(n)), lengths[f"{name}/{n}/logits"],
                   lengths[f"{name}/{n}/hidden"]) for n in lengths["lengths"]]
        for n, x, logits, hidden in cases:
            with torch.inference_mode():
                h, out = model(torch.from_numpy(x), return_hidden=True)
            print(f"{name:9s} {n:7d}  {np.abs(out.numpy() - logits).max():15.2e}  "
                  f"{np.abs(h.numpy() - hidden).max():19.2e}")


if __name__ == "__main__":
    main()
