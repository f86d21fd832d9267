#!/usr/bin/env python
"""Download, extract and verify ASVspoof 2019 LA (about 7.6 GB) into DEST/LA/.

    python scripts/download_dataset.py                    # -> ./LA/ (the configs' database_path)
    python scripts/download_dataset.py --zip ~/LA.zip     # use an archive you already have

Interrupt it at any time and run the same command again: the download resumes and nothing
already done is repeated. A finished dataset is marked with LA/.aasist_complete.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a clone, uninstalled

from aasist.cli import run_with_errors  # noqa: E402
from aasist.download import OFFICIAL_LA_URL, prepare_la  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=OFFICIAL_LA_URL,
                        help="where to download LA.zip from (default: Edinburgh DataShare)")
    parser.add_argument("--dest", default=".",
                        help="folder to put LA/ (and LA.zip) in (default: .)")
    parser.add_argument("--sha256", default=None, help="expected SHA-256 of LA.zip")
    parser.add_argument("--zip", dest="zip_path", default=None,
                        help="use this existing LA.zip instead of downloading")
    parser.add_argument("--force", action="store_true",
                        help="extract and verify again even if LA/ is marked complete")
    parser.add_argument("--remove-archive", action="store_true",
                        help="delete the archive once the dataset is extracted and verified")
    parser.add_argument("--official", action="store_true",
                        help="also require the official utterance counts (automatic when "
                             "downloading from the official URL)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    args = parser.parse_args(argv)

    def run() -> None:
        la_dir = prepare_la(args.dest, url=args.url, zip_path=args.zip_path, sha256=args.sha256,
                            force=args.force, remove_archive=args.remove_archive,
                            expected_counts="official" if args.official else "auto",
                            progress=not args.no_progress)
        print(f"ASVspoof 2019 LA ready at {la_dir}")

    return run_with_errors(run)


if __name__ == "__main__":
    sys.exit(main())
