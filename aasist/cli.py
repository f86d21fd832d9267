"""`python -m aasist <command>`: thin wrappers over library functions.

Every command turns the package's own errors into one line on stderr and a non-zero
exit code; tracebacks are kept for genuine bugs.
"""
from __future__ import annotations

import sys
from typing import Callable

from .errors import AasistError

EXPECTED_ERRORS = (AasistError, ValueError, FileNotFoundError, PermissionError, OSError)


def run_with_errors(func: Callable[[], int | None]) -> int:
    """Call ``func`` and map expected failures to ``error: <message>`` and exit code 1.

    Ctrl-C exits with 130 and a short note; whatever was already written stays on disk.
    """
    try:
        code = func()
    except KeyboardInterrupt:
        print("interrupted: partial work is kept; run the same command again to continue",
              file=sys.stderr)
        return 130
    except EXPECTED_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0 if code is None else int(code)
