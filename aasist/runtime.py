"""Where and how the model runs: device, mixed precision, kernel choices, process settings.

Importing this module (or the package) changes nothing in the process. Two kinds of choice
live here, both explicit:

* **Kernels** of a forward pass (:class:`aasist.nn.Kernels`: the encoder's memory layout,
  the SELU implementation). :func:`kernels_for` returns the fastest for a device by a fixed
  rule of the CPU and the torch build (see its docstring); every model the package builds
  for you gets it. They change speed, not values (beyond float rounding).
* **Process settings** (:class:`Settings`): the command line applies them once at start-up
  with :func:`apply`, from the environment (:meth:`Settings.from_env`): ``AASIST_LAYOUT``
  and ``AASIST_SELU`` force a kernel, ``AASIST_MALLOC_TUNING=0`` leaves glibc's allocator
  alone. A program that imports the package may call :func:`apply` (or just
  :func:`tune_malloc`) itself; nothing does it behind its back.

Why :func:`tune_malloc`: glibc's allocator hands every large block (> 128 KiB by default,
adaptively more) back to the OS with munmap/trim as soon as it is freed. One AASIST forward
on a batch allocates several 150-530 MB temporaries, so each call page-faults them in again,
and on a 2-core CPU that costs more than the arithmetic. Keeping freed memory for reuse (no
mmap for large blocks, no trimming) makes the same forward about 2.5x faster; the cost is
that the process keeps its peak memory until it exits. Non-glibc platforms (macOS, Windows,
musl) are left untouched.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import sys
from dataclasses import dataclass
from typing import Mapping

import torch

from .errors import ConfigError
from .nn import LAYOUTS, SELU_KERNELS, Kernels

# mallopt parameter numbers from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_MAX = -4

malloc_tuned = False  # True once tune_malloc has changed the allocator
_OFF = ("0", "false", "no", "off")


def tune_malloc() -> bool:
    """Keep freed heap memory for reuse (see the module doc). Returns True when applied.

    Process-wide and kept until exit: the command line calls it at start-up (through
    :func:`apply`); a library user decides for their own program.
    """
    global malloc_tuned
    if malloc_tuned:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl or an unusual libc: leave it alone
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # A trim threshold of -1 switches trimming off (man mallopt). A finite one (2 GiB at
    # most, mallopt takes an int) still let a training step's freed activations, 2-3 GB at
    # the top of the heap, go back to the OS and fault back in on the next step.
    ok = (mallopt(_M_MMAP_MAX, 0) == 1
          and mallopt(_M_TRIM_THRESHOLD, -1) == 1
          and mallopt(_M_TOP_PAD, 1 << 30) == 1)
    malloc_tuned = ok
    return ok


@dataclass(frozen=True)
class Settings:
    """Process-wide choices the command line makes at start-up (see the module doc).

    ``layout``: ``"auto"`` (the rule of :func:`kernels_for`) or a layout forced for
    training and inference alike; ``selu``: ``"auto"`` or a SELU kernel;
    ``malloc_tuning``: apply :func:`tune_malloc`.
    """

    layout: str = "auto"
    selu: str = "auto"
    malloc_tuning: bool = True

    def __post_init__(self):
        if self.layout not in ("auto", *LAYOUTS):
            raise ConfigError(f"unknown layout {self.layout!r}; valid: auto, {', '.join(LAYOUTS)}")
        if self.selu not in ("auto", *SELU_KERNELS):
            raise ConfigError(f"unknown SELU kernel {self.selu!r}; valid: auto, "
                              f"{', '.join(SELU_KERNELS)}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "Settings":
        """``AASIST_LAYOUT``, ``AASIST_SELU`` (unset or unknown: auto) and ``AASIST_MALLOC_TUNING``."""
        layout = env.get("AASIST_LAYOUT", "auto").strip().lower()
        selu = env.get("AASIST_SELU", "auto").strip().lower()
        return cls(layout=layout if layout in LAYOUTS else "auto",
                   selu=selu if selu in SELU_KERNELS else "auto",
                   malloc_tuning=env.get("AASIST_MALLOC_TUNING", "1").strip().lower() not in _OFF)


_settings = Settings(malloc_tuning=False)  # until apply(): the rules, and the allocator untouched


def apply(settings: Settings) -> Settings:
    """Make ``settings`` this process's: forced kernels for every model built from now on,
    and the allocator tuning. Returns the settings now in force."""
    global _settings
    _settings = settings
    if settings.malloc_tuning:
        tune_malloc()
    return _settings


def current() -> Settings:
    """The settings in force (:func:`apply`'s, else the defaults with no allocator tuning)."""
    return _settings


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


# oneDNN ISA names (ONEDNN_MAX_CPU_ISA / DNNL_MAX_CPU_ISA) that exclude AVX-512.
_NO_AVX512_ISAS = {"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2"}


def onednn_avx512() -> bool:
    """Whether oneDNN may use AVX-512 here: the CPU has it and ONEDNN_MAX_CPU_ISA does not cap it."""
    cap = (os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or "").upper()
    return "AVX512" in torch.backends.cpu.get_cpu_capability() and cap not in _NO_AVX512_ISAS


# CPU flags (as /proc/cpuinfo names them) that decide which kernels oneDNN and ATen run.
_KERNEL_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile")


def cpu_description() -> dict:
    """CPU model and flags, ATen capability and oneDNN cap: what the kernel choices depend on."""
    model, flags = platform_cpu()
    return {"cpu": model, "cpu_flags": " ".join(f for f in _KERNEL_FLAGS if f in flags),
            "aten_capability": torch.backends.cpu.get_cpu_capability(),
            "onednn_max_isa": os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA"),
            "onednn_avx512": onednn_avx512(), "threads": torch.get_num_threads()}


def platform_cpu() -> tuple[str, set]:
    """('AMD EPYC 9R14 ...', {'avx2', ...}) from /proc/cpuinfo where there is one."""
    model, flags = "", set()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name") and not model:
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    if not model:
        import platform

        model = platform.processor() or platform.machine()
    return model, flags


def kernels_for(device: torch.device | str = "cpu") -> Kernels:
    """The kernels a model on ``device`` runs fastest, unless :func:`apply` forced one.

    Layout: channels_last makes oneDNN's 2x3 convolutions about 1.6x faster in inference on
    every x86 CPU measured, and in training where oneDNN has AVX-512 kernels for the
    backward pass. Where it has not (AVX2 CPUs, or ONEDNN_MAX_CPU_ISA=AVX2), the
    backward-weights convolutions on channels_last fall back to direct kernels about 2.5x
    slower than on the default layout, so training uses that. CUDA: channels_last in both.

    SELU: F.selu is computed with expm1, which the torch 2.14 wheels run about 8x slower than
    exp where ATen uses AVX-512; torch 2.6, 2.11 and 2.13 do not, and there F.selu beats the
    5-pass exp form (measured with ``python -m experiments.benchmark``, docs/speed.md). The
    choice is a fixed rule of the CPU and the torch version, not a timing, so that two runs
    on one machine compute the same numbers even under load: "exp" with AVX-512 and torch
    >= 2.14, "torch" elsewhere. A training run records its kernels and ``--resume`` restores
    them.
    """
    device = torch.device(device)
    avx512 = "AVX512" in torch.backends.cpu.get_cpu_capability()
    new_torch = torch.torch_version.TorchVersion(torch.__version__) >= (2, 14)
    train_layout = "channels_last" if device.type == "cuda" or onednn_avx512() else "contiguous"
    layouts = (train_layout, "channels_last")
    if _settings.layout != "auto":
        layouts = (_settings.layout, _settings.layout)
    selu = _settings.selu if _settings.selu != "auto" else ("exp" if avx512 and new_torch else "torch")
    return Kernels(train_layout=layouts[0], eval_layout=layouts[1], selu=selu)


__all__ = ["Settings", "apply", "autocast", "cpu_description", "current", "kernels_for",
           "onednn_avx512", "platform_cpu", "resolve_device", "tune_malloc"]
