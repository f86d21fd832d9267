#!/usr/bin/env python
"""Download, extract and verify a corpus: `aasist download [--corpus NAME] ...` under its old name.

    python scripts/download_dataset.py                    # -> ./LA/ (the configs' database_path)
    python scripts/download_dataset.py --zip ~/LA.zip     # use an archive you already have
    python scripts/download_dataset.py --corpus df2021 --dest data   # -> data/ASVspoof2021_DF/

Every option is `aasist download`'s (`aasist download --help`).
"""
from __future__ import annotations

import sys

from aasist.cli import main as cli_main


def main(argv: list[str] | None = None) -> int:
    return cli_main(["download", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
