"""A small synthetic corpus in ASVspoof 2019 LA's exact layout, for the demo, tests and CI.

``make_mini(dest)`` / ``ensure_mini(dest)`` write ``dest/LA/``; ``make_mini_corpus(name,
dest)`` writes the same kind of audio in another registered corpus's layout.

* :mod:`.voice`   the bona fide voice (a source-filter speech model)
* :mod:`.attacks` the 19 spoofing attacks A01-A19 (one coarse vocoder each)
* :mod:`.corpus`  utterances, protocols, ASV scores, writing and regeneration
* :mod:`.layouts` the other corpora's layouts
* :mod:`.dsp`     the signal-processing blocks they share
"""
from __future__ import annotations

from .attacks import EVAL_ATTACKS, TRAIN_ATTACKS
from .corpus import (DEFAULT_SIZES, GENERATOR_VERSION, MARKER_NAME, ensure_mini, make_mini,
                     synthesize_utterance)
from .dsp import SAMPLE_RATE
from .layouts import LAYOUT_SIZES, make_mini_corpus

__all__ = [
    "DEFAULT_SIZES", "EVAL_ATTACKS", "GENERATOR_VERSION", "LAYOUT_SIZES", "MARKER_NAME",
    "SAMPLE_RATE", "TRAIN_ATTACKS", "ensure_mini", "make_mini", "make_mini_corpus",
    "synthesize_utterance",
]
