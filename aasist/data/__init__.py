"""Data: protocol readers, audio reading and crop/pad, datasets, decoded cache.

The datasets (``TrainDataset``, ``EvalDataset``, ``seed_worker``, ``make_generator``) are
loaded on first use.
"""
from __future__ import annotations

from typing import Any

from .audio import (NB_SAMP, SAMPLE_RATE, eval_crop, random_crop, random_start, read_audio,
                    repeat_pad)
from .cache import DecodedCache, benchmark_pipeline
from .protocols import (SPLITS, AsvRecord, CmRecord, LaPaths, Trial2021Record, WildRecord,
                        la_paths, protocol_summary, read_2021_metadata, read_asv_scores,
                        read_cm_protocol, read_in_the_wild)

_LAZY = {"TrainDataset", "EvalDataset", "seed_worker", "make_generator"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import datasets

        return getattr(datasets, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "NB_SAMP", "SAMPLE_RATE", "SPLITS", "AsvRecord", "CmRecord", "DecodedCache", "EvalDataset",
    "LaPaths", "TrainDataset", "Trial2021Record", "WildRecord", "benchmark_pipeline",
    "eval_crop", "la_paths", "make_generator", "protocol_summary", "random_crop", "random_start", "read_2021_metadata",
    "read_asv_scores", "read_audio", "read_cm_protocol", "read_in_the_wild", "repeat_pad",
    "seed_worker",
]
