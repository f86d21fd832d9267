"""Where and how the model runs: device choice, mixed precision, process-wide settings.

`resolve_device` and `autocast` serve training, evaluation and prediction alike.
`tune_malloc` is applied once when `aasist` is imported:

glibc's allocator hands every large block (> 128 KiB by default, adaptively more) back to
the OS with munmap/trim as soon as it is freed. One AASIST forward on a batch allocates
several 150-530 MB temporaries, so each call page-faults them in again, and on a 2-core
CPU that costs more than the arithmetic. `tune_malloc` asks glibc to keep freed memory
for reuse (no mmap for large blocks, no trimming), which makes the same forward about
2.5x faster. The cost: the process keeps its peak memory until it exits.

Switch it off with the environment variable ``AASIST_MALLOC_TUNING=0`` (set before
``import aasist``). Non-glibc platforms (macOS, Windows, musl) are left untouched.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import sys

import torch

from .errors import ConfigError

# mallopt parameter numbers from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_MAX = -4

malloc_tuned = False  # True once tune_malloc has changed the allocator


def tune_malloc() -> bool:
    """Keep freed heap memory for reuse (see module doc). Returns True when applied."""
    global malloc_tuned
    if malloc_tuned:
        return True
    if os.environ.get("AASIST_MALLOC_TUNING", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl or an unusual libc: leave it alone
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = (mallopt(_M_MMAP_MAX, 0) == 1
          and mallopt(_M_TRIM_THRESHOLD, 2**31 - 1) == 1
          and mallopt(_M_TOP_PAD, 1 << 30) == 1)
    malloc_tuned = ok
    return ok


def resolve_device(requested: str | None) -> torch.device:
    """'cuda' / 'cuda:N' / 'cpu' / None (cuda when available) -> torch.device, with a clear error."""
    if requested in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not (requested == "cpu" or str(requested).startswith("cuda")):
        raise ConfigError(f"unknown device {requested!r}; valid: cpu, cuda")
    if str(requested).startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {requested!r} was asked for but no CUDA GPU is visible; use --device cpu")
    return torch.device(requested)


def autocast(device: torch.device, enabled: bool):
    """Mixed-precision context on CUDA (bf16 where supported, else fp16); a no-op on CPU."""
    if not enabled or device.type != "cuda":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)
