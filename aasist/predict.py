"""Score arbitrary audio with a trained AASIST / AASIST-L: files, folders, arrays, long audio.

Command line (``aasist predict``) and notebook API::

    from aasist import Detector
    from aasist.predict import predict_paths
    det = Detector()                             # the bundled official AASIST-L
    det = Detector("AASIST-L", "runs/x/weights/swa.pth")   # or your own (config name or file)
    det = Detector(model="RawGAT-ST-mul")        # or another bundled model (`aasist models`)
    det.score("clip.flac")                       # -> {"score": ..., "p_bonafide": ..., "label": ...}
    det.score(samples, sample_rate=44100, timeline=True)
    for result in predict_paths(det, ["folder/", "x.wav"]):
        ...

Input
    Anything libsndfile reads (WAV, FLAC, OGG/Vorbis, Opus, MP3, AIFF, ...), any sample rate
    (resampled to 16 kHz with ``scipy.signal.resample_poly``, a Kaiser-windowed FIR), any
    channel count (channels averaged to mono), any length. Folders are searched recursively
    for files whose extension is in :data:`AUDIO_EXTENSIONS`; a file named explicitly is
    always tried, whatever its extension.

Windows (:mod:`aasist.inference`, shared with evaluate, stream and serve)
    The model sees ``nb_samp`` samples at a time: the config's scoring window
    (``model_config.eval_nb_samp`` where set, else ``nb_samp``; 64600 = 4.04 s in the official
    configs).

    * A clip of at most ``nb_samp`` samples is scored exactly as the official evaluation scores
      it: repeat-padded to ``nb_samp`` (tile, then cut: the official ``pad``). A 16 kHz file
      therefore gets the number the official score file holds for it (up to float32 rounding
      in the forward pass, ~1e-6, see "Bits" below). Clips shorter than the
      architecture's minimum (0.145 s) are fine: padding makes them ``nb_samp`` long.
    * Longer audio is cut into windows of ``nb_samp`` samples every ``hop`` samples, the last
      window aligned to the end of the audio so every sample is seen. Default hop:
      ``nb_samp / 2`` (2.02 s): any stretch of up to half a window lies wholly inside some
      window, at twice the cost of non-overlapping windows.

Aggregation (``aggregate=``, default ``"min"``)
    ``"min"``: the file gets the logits of its *least bona fide* window (smallest decision
    statistic, see Threshold). So the file is labelled ``spoof`` exactly when some window
    is, which is what spotting a synthetic passage spliced into a long genuine recording
    needs: averaging would dilute a 3 s fake inside a 10 min call until it disappeared.
    The price: the more windows, the more chances for a false alarm on long genuine audio,
    so the file-level false-alarm rate of long files is higher than the per-clip rate of a
    threshold chosen on 4 s clips. Each window is scored exactly like an official 4 s
    trial, so a threshold keeps its meaning per window. ``"mean"``: the mean of the
    window logits (both columns) -- robust on long genuine audio, blind to short fakes.
    With ``timeline=True`` every window's start, end and score is returned as well.

Output (one dict per input)
    ``path``, ``score`` (the bona fide logit, column 1 of the model output: the number the
    official score files hold; higher = more bona fide), ``p_bonafide`` (softmax of the two
    logits, column 1 = ``sigmoid(logit1 - logit0)``), ``label`` (``bonafide`` / ``spoof``),
    ``model`` (the bundled model's name, e.g. ``AASIST-L``, or the path of one's own weights),
    ``duration_s`` and ``sample_rate`` (of the original audio), ``windows`` (how many were
    scored), and with ``timeline=True`` ``timeline``: a list of ``{start_s, end_s, score,
    p_bonafide}`` (seconds in the audio; a padded clip's window ends where the audio ends).
    A file that could not be scored gives ``{"path": ..., "error": "<one line>"}`` and the
    batch goes on. JSON output is JSON Lines (one object per line); CSV has a header row and
    the columns ``path, score, p_bonafide, label, duration_s, sample_rate, windows, error``
    (+ ``timeline`` as a JSON string when requested).

Threshold
    ``score`` alone is not a log-odds: the column-1 logit has an arbitrary offset (for one
    reference input the official AASIST-L gives column 1 = -3.6 next to column 0 = +4.0), so
    "score >= 0" has no principled meaning. What *is* meaningful is the logit difference:
    the official training weights the cross-entropy [0.1 spoof, 0.9 bona fide], which
    cancels the 1:9 bona fide:spoof ratio of the training set, so ``p_bonafide =
    sigmoid(logit1 - logit0)`` estimates the posterior under equal priors.

    * Default (``threshold=None``): the classifier's own decision, ``bonafide`` when
      ``p_bonafide >= 0.5`` (i.e. ``logit1 >= logit0``); no calibration data needed.
    * ``threshold=T`` (``--threshold T``): ``bonafide`` when ``score >= T``, a threshold on
      the official score. Choose it on data like yours; for ASVspoof-like data use the EER
      threshold of the dev split: ``python -m aasist evaluate --config CONF --weights PTH
      --split dev`` writes ``eer_threshold`` to ``metrics.json``. Lower T accepts more
      (fewer false rejections of genuine speech, more missed spoofs).

Throughput
    :func:`predict_paths` reads the files through a ``torch.utils.data.DataLoader`` (which
    decodes, resamples and cuts each file into windows) and scores the windows of
    consecutive files in batches of ``batch_size`` under ``torch.inference_mode``, with
    torch's thread setting as the caller left it (``torch.set_num_threads`` or
    ``OMP_NUM_THREADS``). Defaults on CPU: batches of 8, decoding in the calling process
    (decoding a 4 s file costs 1-6 ms of CPU, the model at least ten times more, and the
    model's threads already keep the cores busy; a worker process would also be a fork of
    the process, whose copy-on-write pages the model then touches). On CUDA: batches of
    32 and up to 4 decoding worker processes, which keep the GPU fed. ``num_workers``
    (``--workers``) overrides it. ``python -m experiments.benchmark --sections predict``
    measures files/s and the real-time factor on generated files.

    Bits: float32 results depend slightly (~1e-6) on the batch size and thread count of the
    forward pass. :meth:`Detector.score` scores one clip of at most ``nb_samp`` samples as
    a batch of one, so it returns exactly ``model(repeat_pad(x)[None])[0, 1]``.
"""
from __future__ import annotations

import csv
import json
import math
import os
from typing import IO, Any, Iterable, Iterator, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from tqdm import tqdm

from . import calibrate
from .calibrate import Calibration, Decision, read_labels, training_llr_offset
from .data.audio import SAMPLE_RATE, read_audio
from .errors import ConfigError, DataError
from .inference import (AUDIO_EXTENSIONS, Clip, Engine, cut_windows, file_loader,
                        find_audio_files, hop_samples, to_mono_float32)
from .pretrained import load_model, model_name, resolve, resolve_config
from .runtime import resolve_device
from .vad import SpeechDetector, speech_only

PathLike = Union[str, "os.PathLike[str]"]

AGGREGATIONS = ("min", "mean")
FORMATS = ("json", "csv")
CSV_FIELDS = ("path", "score", "scores", "p_bonafide", "llr", "p_spoof", "label", "model", "calibration",
              "duration_s", "sample_rate", "windows", "speech_s", "error")

def p_bonafide(logit0: float, logit1: float) -> float:
    """softmax([logit0, logit1])[1] = sigmoid(logit1 - logit0), without overflow."""
    d = float(logit1) - float(logit0)
    if d >= 0:
        return 1.0 / (1.0 + math.exp(-d))
    e = math.exp(d)
    return e / (1.0 + e)



def calibration_score(result: Mapping[str, Any]) -> float:
    """The score of a file's result that a calibration maps: the bona fide logit of its speech
    (``speech_score``), or of the whole file where no VAD ran (``score``)."""
    return result.get("speech_score", result["score"])


# --------------------------------------------------------------------------- detector


def prior_offset(config: Mapping[str, Any]) -> float:
    """The training prior's share of a model's logit difference (see
    :func:`aasist.calibrate.training_llr_offset`), from the config it was trained with: its
    class weights and the bona fide fraction of its training data (the mini corpus's, or the
    corpus registry's); 0 where that fraction is not known."""
    from .data.corpora import get_corpus
    from .data.mini import DEFAULT_SIZES

    if config.get("mini_corpus"):
        bona, spoof = DEFAULT_SIZES["train"]
        fraction = bona / (bona + spoof)
    else:
        fraction = get_corpus(config.get("corpus", "la2019")).train_bonafide
    return 0.0 if fraction is None else training_llr_offset(config["class_weights"], fraction)


class Detector:
    """A model plus the rules for turning any audio into one bona fide score.

    Args:
        config: a ``.conf`` file or a bundled config's name (e.g. ``"AASIST-L"``); None:
            found from ``weights`` (see :func:`aasist.pretrained.resolve`).
        weights: the state_dict ``.pth`` (official checkpoint or ours), or ``official:NAME``;
            None with no config: the bundled official AASIST-L.
        device: ``"cpu"``, ``"cuda"`` or None (cuda when available).
        threshold: None = label by ``p_bonafide >= 0.5``; a number T = label by
            ``score >= T`` (see the module doc, "Threshold").
        hop_seconds: hop between windows of long audio (default: half a window).
        overrides: ``KEY=VALUE`` config overrides, e.g. ``["model_config.nb_samp=16000"]``.
        batch_size: windows per forward pass (default 8 on CPU, 32 on CUDA).
        aggregate: ``"min"`` (least bona fide window) or ``"mean"`` (mean logits).
        model: a bundled model's name (``"RawGAT-ST-mul"``; :data:`aasist.pretrained.BUNDLES`),
            the same as ``weights="official:NAME"``; not together with ``weights``.
        calibration: a calibration JSON (``aasist calibrate fit``) or a
            :class:`~aasist.calibrate.Calibration`: ``llr`` is its map of the bona fide
            logit. None: the logit difference corrected for the training prior and class
            weights (:func:`prior_offset`), and ``calibration`` says ``uncalibrated``.
        decision: a :class:`~aasist.calibrate.Decision`: the prior of ``p_spoof`` and the
            costs (or a threshold) behind ``label``; default prior 0.5, the ASVspoof 5 costs.
        vad: leave windows without speech out of the verdict (``llr``, ``p_spoof``,
            ``label``); a file without speech is labelled ``no_speech``.

    ``model_name`` (the ``model`` field of every result): the bundle's name, or the weights
    path for weights of one's own.
    """

    def __init__(self, config: Optional[PathLike] = None, weights: Optional[PathLike] = None,
                 device: Optional[str] = None,
                 threshold: Optional[float] = None, hop_seconds: Optional[float] = None,
                 overrides: Sequence[str] = (), batch_size: Optional[int] = None,
                 aggregate: str = "min", model: Optional[str] = None, calibration: Any = None,
                 decision: Optional[Decision] = None, vad: bool = True):
        name = model_name(resolve(config, weights, model)[1])
        run_config, _ = resolve_config(config, weights, overrides, model=model)
        net = load_model(config, weights, device=resolve_device(device), overrides=overrides,
                         model=model)
        self._setup(Engine(net, batch_size=batch_size), threshold, hop_seconds, aggregate,
                    calibration=calibration, decision=decision, vad=vad,
                    llr_offset=prior_offset(run_config))
        self.model_name: Optional[str] = name

    @classmethod
    def from_model(cls, model: torch.nn.Module, nb_samp: Optional[int] = None,
                   threshold: Optional[float] = None, hop_seconds: Optional[float] = None,
                   batch_size: Optional[int] = None, aggregate: str = "min",
                   model_name: Optional[str] = None, calibration: Any = None,
                   decision: Optional[Decision] = None, vad: bool = False,
                   llr_offset: float = 0.0) -> "Detector":
        """Wrap an already built model (``nb_samp`` default: its config's scoring window,
        :func:`aasist.inference.scoring_window`); results carry ``model`` when
        ``model_name`` is given. No voice-activity detection unless ``vad``."""
        det = cls.__new__(cls)
        det._setup(Engine(model, nb_samp, batch_size), threshold, hop_seconds, aggregate,
                   calibration=calibration, decision=decision, vad=vad, llr_offset=llr_offset)
        det.model_name = model_name
        return det

    def _setup(self, engine: Engine, threshold, hop_seconds, aggregate, *, calibration=None,
               decision: Optional[Decision] = None, vad: bool = True,
               llr_offset: float = 0.0) -> None:
        self.engine = engine
        if calibration is not None and not isinstance(calibration, Calibration):
            calibration = Calibration.load(calibration)
        if calibration is not None and len(calibration.weights) != 1:
            raise ConfigError(f"calibration {calibration.name} fuses {len(calibration.weights)} "
                              f"systems ({', '.join(calibration.systems)}); one model takes the "
                              f"calibration of one system")
        self.calibration = calibration
        self.decision = decision or Decision()
        self.vad = SpeechDetector() if vad else None
        self.llr_offset = float(llr_offset)
        self.hop = hop_samples(hop_seconds, engine.window)
        if threshold is not None and not math.isfinite(float(threshold)):
            raise ConfigError(f"threshold must be a finite number, got {threshold!r}")
        self.threshold = None if threshold is None else float(threshold)
        if aggregate not in AGGREGATIONS:
            raise ConfigError(f"unknown aggregate {aggregate!r}; choose one of "
                              f"{', '.join(AGGREGATIONS)}")
        self.aggregate = aggregate

    # the engine's, for callers that knew them as the Detector's own
    model = property(lambda self: self.engine.model)
    device = property(lambda self: self.engine.device)
    nb_samp = property(lambda self: self.engine.window)
    batch_size = property(lambda self: self.engine.batch_size)

    @property
    def hop_seconds(self) -> float:
        return self.hop / SAMPLE_RATE

    def logits(self, windows: np.ndarray) -> np.ndarray:
        """(B, nb_samp) float32 windows -> (B, 2) float32 logits (see :meth:`Engine.logits`)."""
        return self.engine.logits(windows)

    def warm_up(self) -> None:
        """See :meth:`aasist.inference.Engine.warm_up`."""
        self.engine.warm_up()

    def llr(self, logit0: float, logit1: float) -> float:
        """The log-likelihood ratio of a window: the calibration's map of the bona fide
        logit, else the logit difference minus the training prior's offset."""
        if self.calibration is not None:
            return float(self.calibration.llr(np.array([logit1]))[0])
        return float(logit1) - float(logit0) - self.llr_offset

    @property
    def calibration_name(self) -> str:
        return self.calibration.name if self.calibration is not None else "uncalibrated"

    def verdict(self, logit0: float, logit1: float) -> dict:
        """The two logits of a window (or a file) -> ``score``, ``p_bonafide``, ``llr``,
        ``p_spoof`` and ``label`` (by ``llr`` and the decision, or ``score >= threshold``)."""
        llr = self.llr(logit0, logit1)
        label = (self.decision.label(llr) if self.threshold is None
                 else "bonafide" if logit1 >= self.threshold else "spoof")
        return {"score": float(logit1), "p_bonafide": p_bonafide(logit0, logit1), "llr": llr,
                "p_spoof": self.decision.p_spoof(llr), "label": label}

    def _pick(self, lg: np.ndarray) -> tuple[float, float]:
        """The (logit0, logit1) a file gets from its windows' (W, 2) logits: their mean, or
        the least bona fide window's (by the threshold's score, else by the LLR)."""
        if self.aggregate == "mean":
            l0, l1 = lg.astype(np.float64).mean(axis=0)
            return float(l0), float(l1)
        if self.threshold is not None:
            stat = lg[:, 1]
        else:
            stat = np.array([self.llr(a, b) for a, b in lg])
        i = int(np.argmin(stat))  # first of equal minima
        return float(lg[i, 0]), float(lg[i, 1])

    def result(self, clip: Clip, timeline: bool = False) -> dict:
        """A scored clip -> predict's result dict (see the module doc, "Output")."""
        if clip.error is not None:
            return {"path": clip.path, "error": clip.error}
        lg = np.stack(clip.logits).astype(np.float32)  # (windows, 2)
        if not np.isfinite(lg).all():
            return {"path": clip.path, "error": "the model produced a non-finite score"}
        out = {"path": clip.path, **self.verdict(*self._pick(lg))}
        if getattr(self, "model_name", None) is not None:
            out["model"] = self.model_name
        out.update(calibration=self.calibration_name, duration_s=clip.duration_s,
                   sample_rate=clip.sample_rate, windows=len(clip.starts))
        audio, regions = clip.audio[:clip.n16], None
        if self.vad is not None:
            regions = self.vad.regions(audio)
            out["speech_s"] = sum(b - a for a, b in regions) / SAMPLE_RATE
            out.update(self._speech_verdict(clip, audio, regions, lg))
        if timeline:
            out["timeline"] = [  # a padded clip's only window ends where the audio ends
                {"start_s": s / SAMPLE_RATE,
                 "end_s": min(s + self.nb_samp, clip.n16) / SAMPLE_RATE,
                 **self.verdict(float(w[0]), float(w[1])),
                 **({} if regions is None else {"speech": self.vad.has_speech(
                     audio, regions, s, min(s + self.nb_samp, clip.n16))})}
                for s, w in zip(clip.starts, lg)]
        return out

    def _speech_verdict(self, clip: Clip, audio: np.ndarray, regions: list,
                        lg: np.ndarray) -> dict:
        """``llr``, ``p_spoof`` and ``label`` of the speech in a clip: its speech regions
        joined and scored as a clip of their own (the clip's own windows when nearly all of
        it is speech); no speech: ``no_speech`` and no LLR. ``score`` stays the official
        rule's number for the whole clip."""
        speech = sum(b - a for a, b in regions)
        if speech == 0:
            return {"llr": None, "p_spoof": None, "label": "no_speech"}
        if speech < 0.95 * audio.shape[0]:
            (part,) = self.engine.score_clips([cut_windows(
                clip.path, speech_only(audio, regions), SAMPLE_RATE, self.nb_samp, self.hop)])
            lg = np.stack(part.logits).astype(np.float32)
        verdict = self.verdict(*self._pick(lg))
        # speech_score: the bona fide logit the verdict is about (a calibration maps it)
        return {"speech_score": verdict["score"],
                **{k: verdict[k] for k in ("llr", "p_spoof", "label")}}

    def score(self, path_or_array: Any, sample_rate: Optional[int] = None,
              timeline: bool = False) -> dict:
        """Score one file (path) or one waveform (array/tensor plus ``sample_rate``).

        Arrays: 1-D, or 2-D with channels on the shorter axis (``soundfile.read``'s
        (frames, channels) and ``torchaudio.load``'s (channels, frames) both work); integer
        PCM is scaled to [-1, 1). Raises DataError for audio that cannot be scored (use
        :func:`predict_paths` to get per-file errors instead).
        """
        if isinstance(path_or_array, (str, os.PathLike)):
            if sample_rate is not None:
                raise DataError("sample_rate is read from the file; pass it only with an array")
            path = os.fspath(path_or_array)
            x, sample_rate = read_audio(path)
        else:
            if sample_rate is None:
                raise DataError("pass sample_rate= with an array (e.g. sample_rate=16000)")
            path, x = "<array>", to_mono_float32(path_or_array)
        (clip,) = self.engine.score_clips([cut_windows(path, x, sample_rate, self.nb_samp, self.hop)])
        result = self.result(clip, timeline)
        if "error" in result:
            raise DataError(f"{clip.path}: {result['error']}")
        return result


class Ensemble:
    """Several bundled models, fused: each scores a file as a :class:`Detector` does, and a
    fusion calibration (``aasist calibrate fit`` on several systems) turns their scores into
    one LLR. ``predict --model A,B --calibration FUSION.json`` builds one.

    Args:
        models: bundled model names, in the fusion's order (its ``systems``).
        calibration: the fusion JSON or :class:`~aasist.calibrate.Calibration`, fitted on
            exactly these systems (``aasist calibrate fit --audio LABELS.csv --model A,B``,
            or score files named with ``--systems A,B``).
        decision, vad, device, hop_seconds, batch_size, aggregate: as for :class:`Detector`;
            every member scores with them.

    A member's score is the one a single model would be calibrated on: the bona fide logit of
    the file's speech (``speech_score``) or, without VAD, of the file (``score``). The
    result has ``scores`` (member name -> that score) in place of ``score`` and
    ``p_bonafide``, which belong to one model; ``llr``, ``p_spoof`` and ``label`` are the
    fusion's, ``model`` is the members' names joined by ``+``.
    """

    def __init__(self, models: Sequence[str], calibration: Any,
                 decision: Optional[Decision] = None, vad: bool = True,
                 device: Optional[str] = None, hop_seconds: Optional[float] = None,
                 batch_size: Optional[int] = None, aggregate: str = "min"):
        models = list(models)
        if len(models) < 2 or len(set(models)) != len(models):
            raise ConfigError(f"an ensemble takes two or more different models, got "
                              f"{','.join(models) or 'none'}")
        if calibration is None:
            raise ConfigError(f"--model {','.join(models)} is an ensemble: pass the fusion "
                              f"that combines them, --calibration FUSION.json (make one with "
                              f"`aasist calibrate fit --audio LABELS.csv --model "
                              f"{','.join(models)}`)")
        if not isinstance(calibration, Calibration):
            calibration = Calibration.load(calibration)
        if list(calibration.systems) != models:
            raise ConfigError(f"calibration {calibration.name} fuses "
                              f"{','.join(calibration.systems)}, not {','.join(models)}: give "
                              f"--model the fusion's systems in its order, or fit one for "
                              f"these models")
        self.calibration = calibration
        self.decision = decision or Decision()
        self.members = [Detector(model=m, device=device, hop_seconds=hop_seconds,
                                 batch_size=batch_size, aggregate=aggregate, vad=vad)
                        for m in models]
        self.model_name = "+".join(models)

    @property
    def calibration_name(self) -> str:
        return self.calibration.name

    def warm_up(self) -> None:
        for member in self.members:
            member.warm_up()

    def combine(self, results: Sequence[dict]) -> dict:
        """The members' results for one file (in order) -> the ensemble's result."""
        first = results[0]
        errors = {r["error"]: m.model_name for m, r in zip(self.members, results) if "error" in r}
        if errors:  # a file that cannot be read fails alike for every member: say it once
            if len(errors) == 1 and all("error" in r for r in results):
                return {"path": first["path"], "error": next(iter(errors))}
            return {"path": first["path"],
                    "error": "; ".join(f"{name}: {e}" for e, name in errors.items())}
        out = {"path": first["path"],
               "scores": {m.model_name: calibration_score(r)
                          for m, r in zip(self.members, results)}}
        if any(r["label"] == "no_speech" for r in results):
            out.update(llr=None, p_spoof=None, label="no_speech")
        else:
            llr = float(self.calibration.llr(np.array([list(out["scores"].values())]))[0])
            out.update(llr=llr, p_spoof=self.decision.p_spoof(llr),
                       label=self.decision.label(llr))
        out.update(model=self.model_name, calibration=self.calibration.name,
                   **{k: first[k] for k in ("duration_s", "sample_rate", "windows", "speech_s")
                      if k in first})
        return out

    def score(self, path_or_array: Any, sample_rate: Optional[int] = None) -> dict:
        """One file or waveform (see :meth:`Detector.score`) -> the fused result."""
        return self.combine([m.score(path_or_array, sample_rate) for m in self.members])


# --------------------------------------------------------------------------- many files


def predict_paths(detector: Union[Detector, "Ensemble"], paths: Iterable[PathLike], timeline: bool = False,
                  progress: bool = True, num_workers: Optional[int] = None) -> Iterator[dict]:
    """Score files and folders (recursively), yielding one result dict per file, in order.

    ``num_workers`` DataLoader processes decode and resample the next files while the model
    runs (default: 0, in this process, on CPU; up to 4 on CUDA; see the module doc,
    "Throughput"). A file that cannot be scored yields ``{"path", "error"}`` and the rest
    go on. Progress: tqdm on stderr.
    """
    if isinstance(detector, Ensemble):  # each member reads the files itself, in the same order
        if timeline:
            raise ConfigError("--timeline shows one model's windows; an ensemble fuses whole "
                              "files: run predict with one --model for a timeline")
        runs = [predict_paths(m, paths, progress=progress and i == 0, num_workers=num_workers)
                for i, m in enumerate(detector.members)]
        for results in zip(*runs):
            yield detector.combine(results)
        return
    entries = find_audio_files(paths)
    if num_workers is None:
        cuda = detector.engine.device.type == "cuda" and len(entries) > 1
        num_workers = min(4, os.cpu_count() or 1) if cuda else 0
    elif int(num_workers) < 0:
        raise ConfigError(f"workers must be >= 0, got {num_workers}")
    loader = file_loader(entries, detector.nb_samp, detector.hop, num_workers)
    with tqdm(total=len(entries), unit="file", disable=not progress, dynamic_ncols=True,
              desc="predict", leave=False) as bar:
        for clip in detector.engine.score_clips(loader):
            result = detector.result(clip, timeline)
            clip.audio = None  # the decoded audio is no longer needed
            bar.update(1)
            yield result


def calibrate_on_audio(labels: PathLike, spoof_prior: float = 0.5,
                       model: Union[None, str, Sequence[str]] = None,
                       config: Optional[PathLike] = None, weights: Optional[PathLike] = None,
                       device: str = "cpu", vad: bool = True) -> Calibration:
    """`aasist calibrate fit --audio LABELS.csv`: score labelled audio with a model (as
    `predict` scores it), then fit its calibration; several bundled models (a list, or
    ``"A,B"``): fit their fusion, for ``predict --model A,B``. What a user with a few hundred
    labelled clips of their own kind of audio runs. A file that cannot be scored is an error
    naming it."""
    items = read_labels(labels)
    models = model.split(",") if isinstance(model, str) else list(model or [None])
    if len(models) > 1 and (config or weights):
        raise ConfigError("a fusion of several --model takes bundled models only, not "
                          "--config/--weights")
    columns = []
    for name in models:
        detector = Detector(config, weights, device=device, model=name, vad=vad)
        values = []
        for (audio, _), result in zip(items, predict_paths(detector, [a for a, _ in items],
                                                           progress=False)):
            if "error" in result:
                raise DataError(f"{labels}: {audio}: {result['error']}")
            if result["label"] == "no_speech":
                raise DataError(f"{labels}: {audio}: no speech in it; remove it from the "
                                f"labels (or pass --no-vad)")
            values.append(calibration_score(result))
        columns.append(values)
    systems = [m or (str(weights) if weights else "default") for m in models]
    return calibrate.fit(np.array(columns).T, np.array([bona for _, bona in items]), systems,
                         spoof_prior, data=[str(labels)],
                         name=os.path.splitext(os.path.basename(labels))[0])


# --------------------------------------------------------------------------- output


class ResultWriter:
    """Write result dicts as JSON Lines (``"json"``) or CSV (``"csv"``) to a text stream.

    CSV: the header row comes with the first result; columns are :data:`CSV_FIELDS`, plus
    ``timeline`` (a JSON string) when ``timeline=True``; an error row fills only ``path``
    and ``error``. Each result is flushed at once, so output can be piped while it runs.
    """

    def __init__(self, format: str, stream: IO[str], timeline: bool = False):
        if format not in FORMATS:
            raise ConfigError(f"unknown output format {format!r}; choose one of {', '.join(FORMATS)}")
        self.format = format
        self.stream = stream
        self.timeline = timeline
        self._csv = None
        if format == "csv":
            fields = list(CSV_FIELDS) + (["timeline"] if timeline else [])
            self._csv = csv.DictWriter(stream, fieldnames=fields, extrasaction="ignore",
                                       lineterminator="\n")
            self._header = False

    def write(self, result: Mapping[str, Any]) -> None:
        if self.format == "json":
            row = {k: v for k, v in result.items() if k != "timeline" or self.timeline}
            self.stream.write(json.dumps(row, allow_nan=False) + "\n")
        else:
            if not self._header:
                self._csv.writeheader()
                self._header = True
            row = dict(result)
            if "scores" in row:  # an ensemble's member scores
                row["scores"] = json.dumps(row["scores"], allow_nan=False)
            if self.timeline and "timeline" in row:
                row["timeline"] = json.dumps(row["timeline"], allow_nan=False)
            self._csv.writerow(row)
        self.stream.flush()


__all__ = ["AGGREGATIONS", "AUDIO_EXTENSIONS", "CSV_FIELDS", "FORMATS", "Detector", "Ensemble", "ResultWriter",
           "find_audio_files", "p_bonafide", "calibrate_on_audio", "predict_paths", "to_mono_float32"]
