"""A small synthetic corpus in the exact ASVspoof 2019 LA layout, for demos, tests and CI.

``make_mini(dest)`` writes ``dest/LA/`` with the same folders, file names and text formats
as the real LA.zip, so every reader, dataset, training loop and metric in the package can
run end to end without the 7 GB download::

    LA/ASVspoof2019_LA_{train,dev,eval}/flac/LA_{T,D,E}_<id>.flac     16 kHz, 16-bit, mono
    LA/ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.{train.trn,dev.trl,eval.trl}.txt
    LA/ASVspoof2019_LA_asv_scores/ASVspoof2019.LA.asv.{dev,eval}.gi.trl.scores.txt

Modules: :mod:`.voice` (the bona fide source-filter voice), :mod:`.attacks` (one coarse
vocoder per attack id, A01-A19), :mod:`.corpus` (utterances, protocols, synthetic ASV
scores, markers), :mod:`.dsp` (the signal processing they share).

Spoofs are made from bona-fide-like utterances of the same split's speakers, with length,
loudness and noise floor drawn from a stream the attacks never touch, so the vocoder
artefacts are all that separates the classes.  They are strong on purpose: ``aasist train
--config mini`` must teach AASIST something real within minutes on
two CPU cores, and AASIST's sinc filterbank and graph pooling pick up broad, consistent
differences first (docs/results.md has the measured time and EERs).  The default
corpus (2,100 utterances, about 70 minutes of audio) takes under a minute to generate.
"""
from .corpus import (DEFAULT_SIZES, EVAL_ATTACKS, MARKER_NAME, SAMPLE_RATE, TRAIN_ATTACKS,
                     ensure_mini, make_mini, synthesize_utterance)

__all__ = [
    "SAMPLE_RATE",
    "TRAIN_ATTACKS",
    "EVAL_ATTACKS",
    "DEFAULT_SIZES",
    "MARKER_NAME",
    "make_mini",
    "ensure_mini",
    "synthesize_utterance",
]
