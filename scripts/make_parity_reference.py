"""Record the official implementation's outputs at several input lengths (test fixture).

Usage (needs a checkout of https://github.com/clovaai/aasist):
    python -m scripts.make_parity_reference --official-dir PATH/TO/aasist \
        [--out tests/data/parity_lengths.npz]

Inputs are the reference clips of tests/data/aasist_parity.npz tiled or cut to
each length, so the fixture stores only the official logits and embeddings.
tests/test_model.py compares our model against them.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from aasist.config import load_config
from aasist.pretrained import official

ROOT = Path(__file__).resolve().parents[1]

LENGTHS = (2315, 16000, 48000, 100000)  # shortest accepted, 1 s, 3 s, 6.25 s
REFERENCE = ROOT / "tests" / "data" / "aasist_parity.npz"


def parity_inputs(reference: np.ndarray, length: int) -> np.ndarray:
    """(3, length) float32: each reference clip tiled (or cut) to ``length`` samples."""
    return np.stack([np.resize(row, length) for row in reference]).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--official-dir", required=True, type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "parity_lengths.npz")
    args = parser.parse_args()
    sys.path.insert(0, str(args.official_dir))
    from models.AASIST import Model as OfficialModel  # from the checkout: not a dependency

    reference = np.load(REFERENCE)["input"]
    arrays = {}
    for name in ("AASIST-L", "AASIST"):
        config = load_config(ROOT / "config" / f"{name}.conf")
        model = OfficialModel(config["model_config"])
        state = torch.load(official(name).weights, map_location="cpu")
        model.load_state_dict(state)
        model.eval()
        for length in LENGTHS:
            with torch.no_grad():
                hidden, logits = model(torch.from_numpy(parity_inputs(reference, length)))
            arrays[f"{name}/{length}/logits"] = logits.numpy()
            arrays[f"{name}/{length}/hidden"] = hidden.numpy()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, lengths=np.array(LENGTHS), **arrays)
    print(f"wrote {args.out} ({len(arrays)} arrays)")


if __name__ == "__main__":
    main()
