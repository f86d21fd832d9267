#!/usr/bin/env python
"""Download the official AASIST and AASIST-L checkpoints (SHA-256 verified): `aasist download
--pretrained` under its old name.

    python scripts/download_pretrained.py        # -> weights/AASIST.pth, weights/AASIST-L.pth

Files already present with the right hash are not fetched again. Options: --dest, --names,
--base-url, --no-progress (`aasist download --help`).
"""
from __future__ import annotations

import sys

from aasist.cli import main as cli_main


def main(argv: list[str] | None = None) -> int:
    return cli_main(["download", "--pretrained", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
