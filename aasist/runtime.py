"""Where and how the model runs: device, mixed precision, CPU kernels, process-wide settings.

`resolve_device` and `autocast` serve training, evaluation and prediction alike.
`conv_layout` and `selu_kernel` pick, per CPU, the encoder's memory layout and SELU
implementation (see their docstrings; `AASIST_LAYOUT` / `AASIST_SELU` force a choice).
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
    # A trim threshold of -1 switches trimming off (man mallopt). A finite one (2 GiB at
    # most, mallopt takes an int) still let a training step's freed activations, 2-3 GB at
    # the top of the heap, go back to the OS and fault back in on the next step.
    ok = (mallopt(_M_MMAP_MAX, 0) == 1
          and mallopt(_M_TRIM_THRESHOLD, -1) == 1
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


# oneDNN ISA names (ONEDNN_MAX_CPU_ISA / DNNL_MAX_CPU_ISA) that exclude AVX-512.
_NO_AVX512_ISAS = {"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2"}
LAYOUTS = {"channels_last": torch.channels_last, "contiguous": torch.contiguous_format}


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


def conv_layout(device: torch.device, training: bool) -> torch.memory_format:
    """Memory layout of the encoder's activations for a forward on ``device``.

    channels_last makes oneDNN's 2x3 convolutions about 1.6x faster in inference on every
    x86 CPU measured, and in training where oneDNN has AVX-512 kernels for the backward
    pass. Where it has not (AVX2 CPUs, or ONEDNN_MAX_CPU_ISA=AVX2), the backward-weights
    convolutions on channels_last fall back to direct kernels about 2.5x slower than on the
    default layout, so training uses that. CUDA and other CPUs: channels_last in inference,
    default layout in training on non-x86 CPUs. ``AASIST_LAYOUT=channels_last|contiguous``
    forces one. Both layouts give the same values up to float rounding.
    """
    forced = os.environ.get("AASIST_LAYOUT", "auto").strip().lower()
    if forced in LAYOUTS:
        return LAYOUTS[forced]
    if device.type == "cuda" or not training:
        return torch.channels_last
    return torch.channels_last if onednn_avx512() else torch.contiguous_format


SELU_KERNELS = ("torch", "exp")
_selu_choice: str | None = None  # set by the first selu_kernel() call, or by use_selu_kernel


def selu_kernel() -> str:
    """"torch" (F.selu) or "exp" (SELU written with exp, see `model.selu_`), fixed per process.

    F.selu is computed with expm1, which the torch 2.14 wheels run about 8x slower than exp
    where ATen uses AVX-512; torch 2.6, 2.11 and 2.13 do not, and there F.selu beats the
    5-pass exp form (measured with `scripts/benchmark.py`, README "Speed"). The choice is a
    fixed rule of the CPU and the torch version, not a timing, so that two runs on one
    machine compute the same numbers even under load: "exp" with AVX-512 and torch >= 2.14,
    "torch" elsewhere. The two differ by float rounding only; a training run records its
    choice and `--resume` restores it. ``AASIST_SELU=torch|exp`` forces one.
    """
    global _selu_choice
    if _selu_choice is None:
        forced = os.environ.get("AASIST_SELU", "auto").strip().lower()
        _selu_choice = forced if forced in SELU_KERNELS else _selu_rule()
    return _selu_choice


def _selu_rule() -> str:
    """The default SELU kernel for this CPU and torch build (see `selu_kernel`)."""
    new_torch = torch.torch_version.TorchVersion(torch.__version__) >= (2, 14)
    avx512 = "AVX512" in torch.backends.cpu.get_cpu_capability()
    return "exp" if avx512 and new_torch else "torch"


def use_selu_kernel(name: str) -> None:
    """Fix the SELU kernel for this process (a resumed run takes its checkpoint's)."""
    global _selu_choice
    if name not in SELU_KERNELS:
        raise ConfigError(f"unknown SELU kernel {name!r}; valid: {', '.join(SELU_KERNELS)}")
    _selu_choice = name
