#!/usr/bin/env python
"""Make a channel-shifted copy of an LA-format split: its audio as users' recordings would be.

    python scripts/make_shifted_copy.py --src data/mini/LA --dest data/mini_shifted
    python -m aasist evaluate --config config/mini.conf --weights runs/mini/weights/last.pth \\
        --set database_path=data/mini_shifted/LA --split eval

Each utterance goes through one drawn condition (phone call, VoIP, voice message, laptop in
a room: rooms, noise, band limits, telephone and lossy codecs, packet loss); see
`aasist.augment.shift`. The same source, split and seed always give the same copy, and
running the command again on a finished copy does nothing.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a clone, uninstalled

from aasist.augment.shift import make_shifted_copy  # noqa: E402
from aasist.cli import run_with_errors  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", required=True, help="the LA/ folder of the clean corpus")
    parser.add_argument("--dest", required=True, help="folder that will hold the shifted LA/")
    parser.add_argument("--split", choices=["dev", "eval"], default="eval")
    parser.add_argument("--seed", type=int, default=0, help="seed of the drawn conditions")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    def run() -> None:
        root = make_shifted_copy(args.src, args.dest, split=args.split, seed=args.seed,
                                 progress=not args.quiet)
        print(f"shifted {args.split} split ready at {root}; score it with "
              f"`python -m aasist evaluate --config CONF --weights PTH "
              f"--set database_path={root} --split {args.split}`")

    return run_with_errors(run)


if __name__ == "__main__":
    sys.exit(main())
