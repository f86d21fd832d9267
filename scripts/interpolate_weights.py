#!/usr/bin/env python
"""Average two weight files of one model: (1 - alpha) * A + alpha * B.

    python -m scripts.interpolate_weights --config mini \\
        runs/mini_finetune/weights/last.pth runs/mini_robust_finetune/weights/last.pth \\
        --alpha 0.75 --out runs/mini_soup.pth
    aasist evaluate --config mini --weights runs/mini_soup.pth

Meant for two fine-tunes of the same trained model, one on clean audio and one with
augmentation (`config/mini_finetune.conf` and `config/mini_robust_finetune.conf`): the
average keeps more of the clean accuracy than the robust fine-tune alone and more of its
robustness than the clean one (docs/robustness.md). See
`aasist.pretrained.interpolate_weights`.
"""
from __future__ import annotations

import argparse
import sys

from aasist.cli import run_with_errors
from aasist.config import load_config
from aasist.fileio import atomic_torch_save
from aasist.pretrained import interpolate_weights


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", help="first weights (.pth, a run's checkpoint.pt, or official:NAME)")
    parser.add_argument("b", help="second weights, same model")
    parser.add_argument("--config", required=True, help="the config both were trained with (a file or a bundled name)")
    parser.add_argument("--alpha", type=float, default=0.5, help="weight of B (0 = A, 1 = B)")
    parser.add_argument("--out", required=True, help="where to write the averaged .pth")
    args = parser.parse_args(argv)

    def run() -> None:
        config = load_config(args.config)
        model = interpolate_weights(config["model_config"], args.a, args.b, args.alpha)
        atomic_torch_save(model.state_dict(), args.out)  # creates the folder too
        print(f"wrote {args.out}: {1 - args.alpha:g} x {args.a} + {args.alpha:g} x {args.b}")

    return run_with_errors(run)


if __name__ == "__main__":
    sys.exit(main())
