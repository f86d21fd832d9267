"""The local web app: `aasist serve` (see :mod:`aasist.serve.app`)."""
from __future__ import annotations

from .app import (DEFAULT_MAX_UPLOAD_MB, TOKEN_ENV, Limits, check_exposure, create_app,
                  run_server)

__all__ = ["DEFAULT_MAX_UPLOAD_MB", "TOKEN_ENV", "Limits", "check_exposure", "create_app",
           "run_server"]
