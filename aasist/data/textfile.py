"""The one line reader behind every protocol, key, metadata and score file of the corpora.

Readers built on it skip blank lines and ``#`` comments and report a bad line as one
:class:`~aasist.errors.DataError` message, ``<path>:<line>: <what is wrong>; <the fix>``,
which the command line prints as it is.
"""
from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Iterator, Union

from ..errors import DataError

PathLike = Union[str, "os.PathLike[str]"]

_SHOWN = 120  # longest line quoted in an error message


def data_lines(path: PathLike, what: str, hint: str = "check the path") -> Iterator[tuple[int, str]]:
    """Yield ``(1-based line number, stripped line)`` for each line that holds data.

    ``what`` names the file in messages ("CM protocol"); ``hint`` says where to get it.
    Raises DataError when the file is missing, a folder, unreadable or not UTF-8 text.
    """
    p = Path(path)
    if not p.is_file():
        state = "is a folder" if p.is_dir() else "missing"
        raise DataError(f"{what} not found: {p} ({state}); {hint}")
    try:
        with open(p, "rb") as fh:  # decoded line by line, so an error names its line
            for number, raw in enumerate(fh, start=1):
                try:
                    line = raw.decode("utf-8-sig" if number == 1 else "utf-8").strip()
                except UnicodeDecodeError as exc:
                    raise DataError(f"{p}:{number}: not UTF-8 text ({exc.reason}); is this "
                                    f"really a {what}?") from None
                if line and not line.startswith("#"):
                    yield number, line
    except OSError as exc:
        raise DataError(f"{p}: cannot read the {what}: {exc.strerror or exc}; check its "
                        "permissions") from None


def line_error(path: PathLike, number: int, problem: str, fix: str) -> DataError:
    """``<path>:<number>: <problem>; <fix>`` as a DataError."""
    return DataError(f"{path}:{number}: {problem}; {fix}")


def bad_line(path: PathLike, number: int, line: str, problem: str, expected: str) -> DataError:
    """A malformed line, quoted (shortened) in the message, with what was expected."""
    shown = line if len(line) <= _SHOWN else line[:_SHOWN - 3] + "..."
    return line_error(path, number, f"{problem} in {shown!r}",
                      f"expected {expected}; fix or remove the line (or extract the file again)")


def csv_row(path: PathLike, number: int, line: str) -> list[str]:
    """The fields of one CSV line, or a DataError naming it (a stray quote, say)."""
    try:
        return next(csv.reader([line]))
    except csv.Error as exc:
        raise bad_line(path, number, line, f"not a CSV row ({exc})",
                       "comma-separated fields") from None


def fields(path: PathLike, number: int, line: str, count: int, expected: str) -> list[str]:
    """The whitespace-separated fields of ``line``, which must number exactly ``count``."""
    cols = line.split()
    if len(cols) != count:
        raise bad_line(path, number, line, f"{len(cols)} columns", expected)
    return cols


def parse_score(path: PathLike, number: int, token: str) -> float:
    """A finite float score, or a DataError naming the line."""
    try:
        value = float(token)
    except ValueError:
        raise line_error(path, number, f"score {token!r} is not a number",
                         "the score column must hold a float") from None
    if not math.isfinite(value):
        raise line_error(path, number, f"score {token!r} is not finite",
                         "fix the scoring step so that it writes finite scores")
    return value


def check_unique(path: PathLike, number: int, key: str, seen: dict[str, int],
                 what: str = "utterance id") -> None:
    """Record ``key`` as seen on line ``number``; DataError if an earlier line had it."""
    if key in seen:
        raise line_error(path, number, f"{what} {key!r} repeats line {seen[key]}",
                         "each one may appear once: remove the duplicate")
    seen[key] = number


__all__ = ["bad_line", "check_unique", "csv_row", "data_lines", "fields", "line_error", "parse_score"]
