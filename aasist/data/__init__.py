"""Data: audio reading and crop/pad, protocol and score files, datasets, decoded cache, the
corpus registry (:mod:`.corpora`) and the embedded mini corpus (:mod:`.mini`)."""
from __future__ import annotations

from .audio import NB_SAMP, SAMPLE_RATE, random_crop, random_start, read_audio, repeat_pad
from .cache import DecodedCache
from .datasets import EvalDataset, TrainDataset, make_generator, seed_worker
from .protocols import (SPLITS, AsvRecord, CmRecord, LaPaths, Trial2021Record, WildRecord,
                        la_paths, protocol_summary, read_2021_metadata, read_cm_protocol,
                        read_in_the_wild)
from .scores import read_asv_records, read_asv_scores, read_cm_scores

__all__ = [
    "NB_SAMP", "SAMPLE_RATE", "SPLITS", "AsvRecord", "CmRecord", "DecodedCache", "EvalDataset",
    "LaPaths", "TrainDataset", "Trial2021Record", "WildRecord",
    "la_paths", "make_generator", "protocol_summary", "random_crop", "random_start", "read_2021_metadata",
    "read_asv_records", "read_asv_scores", "read_audio", "read_cm_protocol", "read_cm_scores",
    "read_in_the_wild", "repeat_pad", "seed_worker",
]
