#!/usr/bin/env python
"""Download, extract and verify a corpus: ASVspoof 2019 LA (default), 2021 LA or DF,
In-the-Wild or ASVspoof 5.

    python scripts/download_dataset.py                    # -> ./LA/ (the configs' database_path)
    python scripts/download_dataset.py --zip ~/LA.zip     # use an archive you already have
    python scripts/download_dataset.py --corpus df2021 --dest data   # -> data/ASVspoof2021_DF/

Interrupt it at any time and run the same command again: the download resumes and nothing
already done is repeated. A finished corpus is marked with <corpus folder>/.aasist_complete,
which also records the size, MD5 and SHA-256 of every archive it was built from.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a clone, uninstalled

from aasist.cli import run_with_errors  # noqa: E402
from aasist.data.corpora import CORPORA  # noqa: E402
from aasist.download import COMPLETE_MARKER, OFFICIAL_LA_URL, prepare_corpus, prepare_la  # noqa: E402
from aasist.errors import ConfigError  # noqa: E402

_LA_ONLY = ("url", "sha256", "zip_path", "official")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=list(CORPORA), default="la2019")
    parser.add_argument("--dest", default=".",
                        help="folder to put the corpus (and its archives) in (default: .)")
    parser.add_argument("--archive-dir", default=None,
                        help="where the archives are downloaded to, or already are "
                             "(default: --dest)")
    parser.add_argument("--mirror", default=None,
                        help="a URL folder serving the archives under their own names, used "
                             "instead of the official URLs")
    parser.add_argument("--force", action="store_true",
                        help="extract and verify again even if the corpus is marked complete")
    parser.add_argument("--remove-archive", action="store_true",
                        help="delete each archive once it is checked and extracted")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    la = parser.add_argument_group("ASVspoof 2019 LA only")
    la.add_argument("--url", default=None,
                    help="where to download LA.zip from (default: Edinburgh DataShare)")
    la.add_argument("--sha256", default=None, help="expected SHA-256 of LA.zip")
    la.add_argument("--zip", dest="zip_path", default=None,
                    help="use this existing LA.zip instead of downloading")
    la.add_argument("--official", action="store_true",
                    help="also require the official utterance counts (automatic when "
                         "downloading from the official URL)")
    return parser


def _report(root: Path) -> str:
    """Where the corpus is, and the checksums recorded for archives nothing was published for."""
    lines = [f"{root.name} ready at {root}"]
    marker = json.loads((root / COMPLETE_MARKER).read_text())
    for name, record in (marker.get("archives") or {}).items():
        lines.append(f"  {name}: {record['size']:,} bytes, sha256 {record['sha256']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def run() -> None:
        progress = not args.no_progress
        if args.corpus == "la2019" and any(getattr(args, k) for k in _LA_ONLY):
            root = prepare_la(args.dest, url=args.url or OFFICIAL_LA_URL, zip_path=args.zip_path,
                              sha256=args.sha256, force=args.force,
                              remove_archive=args.remove_archive,
                              expected_counts="official" if args.official else "auto",
                              progress=progress)
        else:
            given = [f"--{k.replace('_path', '').replace('_', '-')}" for k in _LA_ONLY
                     if getattr(args, k)]
            if given:
                raise ConfigError(f"{', '.join(given)} apply to --corpus la2019 only")
            root = prepare_corpus(args.corpus, args.dest, mirror=args.mirror,
                                  archive_dir=args.archive_dir, force=args.force,
                                  remove_archives=args.remove_archive, progress=progress)
        print(_report(root))

    return run_with_errors(run)


if __name__ == "__main__":
    sys.exit(main())
