#!/usr/bin/env python
"""Download the official AASIST and AASIST-L checkpoints (SHA-256 verified) into DEST/.

    python scripts/download_pretrained.py        # -> weights/AASIST.pth, weights/AASIST-L.pth

Files already present with the right hash are not fetched again.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a clone, uninstalled

from aasist.cli import run_with_errors  # noqa: E402
from aasist.download import (PRETRAINED_BASE_URL, PRETRAINED_SHA256,  # noqa: E402
                             download_pretrained)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", default="weights", help="output folder (default: weights/)")
    parser.add_argument("--names", nargs="+", default=list(PRETRAINED_SHA256),
                        choices=list(PRETRAINED_SHA256), help="which checkpoints (default: all)")
    parser.add_argument("--base-url", default=PRETRAINED_BASE_URL,
                        help="folder URL holding the .pth files "
                             "(default: the clovaai/aasist repository on GitHub)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    args = parser.parse_args(argv)

    def run() -> None:
        paths = download_pretrained(args.dest, args.names, base_url=args.base_url,
                                    progress=not args.no_progress)
        for name, path in paths.items():
            print(f"{name}: {path}")

    return run_with_errors(run)


if __name__ == "__main__":
    sys.exit(main())
