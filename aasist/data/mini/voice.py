"""The bona fide voice of the mini corpus: a source-filter speech model.

A glottal pulse train (Rosenberg pulses on a declining pitch contour with accents, jitter,
shimmer and aspiration) drives a cascade of six time-varying formant resonators that move
between vowel and consonant targets; fricatives and plosive bursts are shaped noise. Voiced
sounds carry breathy turbulence noise above ~3.5 kHz, modulated by the glottal flow, at a
speaker-specific level, so bona fide speech always has high-band content (which the
vocoders of :mod:`.attacks` change). The recording channel adds a DC-blocking high-pass,
a bright close-talking microphone and background noise. Speech starts 10-40 ms into the
clip, because evaluation scores the first samples.

Each speaker (``LA_00xx``) has its own pitch range, formant scaling, voice quality and
speaking rate. Control tracks are per 5 ms block (``dsp.BLOCK`` samples).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.signal import butter, lfilter, sosfilt

from .dsp import BLOCK, SAMPLE_RATE, frame_to_sample, keyed_rng, rms, smooth, tv_allpole

_BLOCKS_PER_S = SAMPLE_RATE // BLOCK
_HIGHPASS = butter(4, 3500.0, btype="highpass", fs=SAMPLE_RATE, output="sos")

# Vowel formant targets (F1, F2, F3 in Hz, adult male; Peterson & Barney-like).
_VOWELS = np.array([
    [270, 2290, 3010], [390, 1990, 2550], [530, 1840, 2480], [660, 1720, 2410],
    [730, 1090, 2440], [570, 840, 2410], [440, 1020, 2240], [300, 870, 2240],
    [640, 1190, 2390], [490, 1350, 1690], [500, 1500, 2500],
], dtype=np.float64)
# Sonorant consonants (nasals, liquids, glides): F1, F2, F3, relative amplitude.
_SONORANTS = np.array([
    [250, 1100, 2400, 0.30], [250, 1700, 2600, 0.30], [350, 1100, 2600, 0.50],
    [330, 1050, 1550, 0.55], [300, 700, 2200, 0.50], [280, 2100, 2900, 0.50],
], dtype=np.float64)
# Fricative noise shapes: centre frequency, bandwidth (Hz), level.
_FRICATIVES = np.array([
    [5800, 2000, 0.30], [3200, 1200, 0.30], [5000, 4000, 0.12], [7000, 2000, 0.10],
    [2000, 1500, 0.08],
], dtype=np.float64)


def speaker(seed: int, number: int) -> dict:
    """The voice of speaker ``LA_<number>`` in the corpus of ``seed``."""
    rng = keyed_rng(seed, 7919, number)
    female = bool(rng.random() < 0.5)
    return {
        "id": f"LA_{number:04d}",
        "f0": rng.uniform(175.0, 250.0) if female else rng.uniform(90.0, 140.0),
        "range": rng.uniform(2.0, 6.0),  # semitones of declination + accents
        "formant_scale": rng.uniform(1.07, 1.2) if female else rng.uniform(0.9, 1.02),
        "jitter": rng.uniform(0.003, 0.012),
        "shimmer": rng.uniform(0.02, 0.08),
        "open_quotient": rng.uniform(0.45, 0.75),
        "breath": rng.uniform(0.02, 0.06),
        "hiss_db": rng.uniform(-30.0, -25.0),
        "closing": rng.uniform(0.12, 0.3),
        "tilt": rng.uniform(0.0, 0.3),
        "rate": rng.uniform(0.8, 1.25),
        "bw_scale": rng.uniform(0.8, 1.3),
        "f456": rng.uniform(0.95, 1.05, size=3),
    }


# --------------------------------------------------------------------------- control tracks


@dataclass
class _Tracks:
    """Per-block control tracks of one utterance, filled segment by segment."""

    formants: np.ndarray  # (blocks, 3) F1-F3 targets in Hz
    voice: np.ndarray  # (blocks,) voicing amplitude
    stop: int  # first block of the trailing silence
    current: np.ndarray  # formants held through consonants and pauses
    phrase_gain: float = 1.0
    # (first block, end block, centre Hz, bandwidth Hz, level, "fric" or "burst")
    noise_events: list[tuple] = field(default_factory=list)

    def hold(self, t: int, end: int) -> int:
        end = min(end, self.stop)
        self.formants[t:end] = self.current
        return end


# One function per kind of segment: each fills the tracks from block ``t`` and returns the
# block where the segment ends.


def _vowel(rng, tr: _Tracks, t: int, spk: dict) -> int:
    length = int(rng.uniform(14, 40) * spk["rate"])
    vowel = _VOWELS[rng.integers(len(_VOWELS))]
    tr.current = vowel * spk["formant_scale"] * rng.uniform(0.94, 1.06, 3)
    amp = rng.uniform(0.6, 1.0) * tr.phrase_gain
    end = tr.hold(t, t + length)
    tr.voice[t:end] = amp
    return end


def _sonorant(rng, tr: _Tracks, t: int, spk: dict) -> int:
    length = int(rng.uniform(8, 18) * spk["rate"])
    target = _SONORANTS[rng.integers(len(_SONORANTS))]
    tr.current = target[:3] * spk["formant_scale"]
    end = tr.hold(t, t + length)
    tr.voice[t:end] = target[3] * rng.uniform(0.7, 1.0) * tr.phrase_gain
    return end


def _fricative(rng, tr: _Tracks, t: int, spk: dict) -> int:
    end = tr.hold(t, t + int(rng.uniform(12, 32) * spk["rate"]))
    centre, bandwidth, level = _FRICATIVES[rng.integers(len(_FRICATIVES))]
    if rng.random() < 0.3:  # voiced fricative
        tr.voice[t:end] = 0.25 * tr.phrase_gain
    tr.noise_events.append((t, end, centre * rng.uniform(0.9, 1.1) * min(spk["formant_scale"], 1.1),
                            bandwidth, level * rng.uniform(0.6, 1.4) * tr.phrase_gain, "fric"))
    return end


def _plosive(rng, tr: _Tracks, t: int, spk: dict) -> int:
    closure = int(rng.uniform(6, 14) * spk["rate"])
    end = tr.hold(t, t + closure + int(rng.uniform(2, 5)))
    centre = rng.choice([1500.0, 2500.0, 4000.0]) * min(spk["formant_scale"], 1.1)
    tr.noise_events.append((min(t + closure, end - 1), end, centre, 3000.0,
                            rng.uniform(0.3, 0.7) * tr.phrase_gain, "burst"))
    if rng.random() < 0.5:  # aspiration after the burst
        aspiration_end = tr.hold(end, end + int(rng.uniform(4, 10)))
        tr.noise_events.append((end, aspiration_end, 1800.0 * spk["formant_scale"], 2500.0,
                                rng.uniform(0.05, 0.12) * tr.phrase_gain, "fric"))
        end = aspiration_end
    return end


def _pause(rng, tr: _Tracks, t: int, spk: dict) -> int:
    end = tr.hold(t, t + int(rng.uniform(20, 60)))
    tr.phrase_gain = rng.uniform(0.75, 1.0)  # the next phrase is a little softer or louder
    return end


_SEGMENTS = (_vowel, _sonorant, _fricative, _plosive, _pause)
_SEGMENT_PROBS = (0.45, 0.2, 0.17, 0.12, 0.06)


def _plan(rng: np.random.Generator, n_blocks: int, spk: dict) -> dict:
    """Per-block formants (blocks, 6), bandwidths (6,), voicing (blocks,) and noise events."""
    lead = int(rng.uniform(0.01, 0.04) * _BLOCKS_PER_S)
    stop = n_blocks - int(rng.uniform(0.04, 0.2) * _BLOCKS_PER_S)
    tr = _Tracks(formants=np.zeros((n_blocks, 3)), voice=np.zeros(n_blocks), stop=stop,
                 current=_VOWELS[rng.integers(len(_VOWELS))] * spk["formant_scale"])
    tr.formants[:lead] = tr.current
    t = lead
    while t < stop:
        segment = _SEGMENTS[rng.choice(len(_SEGMENTS), p=_SEGMENT_PROBS)]
        t = max(segment(rng, tr, t, spk), t + 1)
    tr.formants[t:] = tr.current

    fs = spk["formant_scale"]
    high = np.array([3500.0, 4500.0, 5800.0]) * fs * spk["f456"]  # F4-F6, fixed per speaker
    formants = np.concatenate([smooth(tr.formants, 7), np.broadcast_to(high, (n_blocks, 3))],
                              axis=1)
    formants = np.minimum(formants, 0.45 * SAMPLE_RATE)
    bandwidths = np.array([60.0, 90.0, 150.0, 220.0, 300.0, 400.0]) * spk["bw_scale"]
    return {"formants": formants, "bandwidths": bandwidths + 0.02 * formants,
            "voice": smooth(smooth(tr.voice, 3), 3), "noise_events": tr.noise_events}


def _f0_contour(rng: np.random.Generator, n_blocks: int, spk: dict) -> np.ndarray:
    """Pitch per block (Hz): declination, a few accents and a slow random drift."""
    t = np.arange(n_blocks) / _BLOCKS_PER_S
    dur = n_blocks / _BLOCKS_PER_S
    semis = spk["range"] * rng.uniform(0.4, 0.8) * (0.5 - t / dur)
    for _ in range(rng.integers(1, 2 + int(dur * 1.5))):
        centre = rng.uniform(0.0, dur)
        width = rng.uniform(0.08, 0.25)
        semis += spk["range"] * rng.uniform(0.2, 0.7) * np.exp(-0.5 * ((t - centre) / width) ** 2)
    drift = smooth(rng.standard_normal(n_blocks + 40), 40)[20:20 + n_blocks]
    semis += 4.0 * drift
    return spk["f0"] * 2.0 ** (semis / 12.0)


# --------------------------------------------------------------------------- sound


def _rosenberg(frac: np.ndarray, oq: float, closing: float) -> np.ndarray:
    """Rosenberg glottal flow pulse at phase ``frac`` in [0, 1) of the period: sin^2(pi/2 u)
    while opening (u rises 0 -> 1), sin(pi/2 u) while closing (u falls 1 -> 0), then 0."""
    tp = (1.0 - closing) * oq
    tn = closing * oq
    opening = frac < tp
    u = np.where(opening, frac / tp, np.maximum(1.0 - (frac - tp) / tn, 0.0))
    g = np.sin(0.5 * np.pi * u)  # one sine for both phases
    return np.where(opening, g * g, g)


def _glottal_source(rng: np.random.Generator, spk: dict, f0: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Unit-power glottal flow derivative with jitter and shimmer, and the flow itself."""
    phase0 = np.cumsum(f0 / SAMPLE_RATE)
    jitter = 1.0 + spk["jitter"] * rng.standard_normal(int(phase0[-1]) + 3)  # per period
    phase = np.cumsum(f0 * jitter[phase0.astype(np.int64)] / SAMPLE_RATE) + rng.random()
    period = phase.astype(np.int64)
    glottal = _rosenberg(phase - period, spk["open_quotient"], spk["closing"])
    shimmer = 1.0 + spk["shimmer"] * rng.standard_normal(int(period[-1]) + 2)
    source = np.diff(glottal, prepend=glottal[0]) * shimmer[period]
    source = _one_pole_lowpass(source, spk["tilt"])  # spectral tilt
    return source / rms(source), glottal


def _one_pole_lowpass(x: np.ndarray, c: float) -> np.ndarray:
    return lfilter([1.0 - c], [1.0, -c], x)


def _resonator_coeffs(freq: np.ndarray, bw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = np.exp(-np.pi * bw / SAMPLE_RATE)
    return -2.0 * r * np.cos(2.0 * np.pi * freq / SAMPLE_RATE), r * r


def _allpole_polys(freqs: np.ndarray, bws: np.ndarray) -> np.ndarray:
    """Cascade of 2-pole resonators, ``freqs``/``bws`` (blocks, sections) -> one
    denominator polynomial per block (blocks, 2 * sections + 1)."""
    a1, a2 = _resonator_coeffs(freqs, bws)
    poly = np.zeros((len(freqs), 2 * freqs.shape[1] + 1))
    poly[:, 0] = 1.0
    for s in range(freqs.shape[1]):
        new = poly.copy()
        new[:, 1:] += a1[:, s:s + 1] * poly[:, :-1]
        new[:, 2:] += a2[:, s:s + 1] * poly[:, :-2]
        poly = new
    return poly


def _voiced(rng: np.random.Generator, spk: dict, plan: dict, f0: np.ndarray,
            voice: np.ndarray) -> np.ndarray:
    """Glottal excitation through the formant cascade, plus the breathy high band."""
    n = len(f0)
    source, glottal = _glottal_source(rng, spk, f0)
    aspiration = rng.standard_normal(n) * (0.3 + glottal) * spk["breath"] * 4.0
    polys = _allpole_polys(plan["formants"], np.broadcast_to(plan["bandwidths"],
                                                              plan["formants"].shape))
    out = tv_allpole(voice * (source + aspiration), polys, gains=polys.sum(axis=1))  # 0 dB at DC
    active = voice > 0.5 * max(voice.max(), 1e-9)
    if active.any():
        out /= rms(out[active])
    # Turbulence noise above ~3.5 kHz, modulated by the glottal flow, at a speaker-specific
    # level relative to the voiced sound: consistent 4-8 kHz content.
    hiss = sosfilt(_HIGHPASS, rng.standard_normal(n)) * (0.15 + glottal) * voice
    hiss_active = hiss[active] if active.any() else hiss
    return out + hiss / rms(hiss_active) * 10.0 ** (spk["hiss_db"] / 20.0)


def _resonate(x: np.ndarray, freq: float, bw: float) -> np.ndarray:
    """Static 2-pole band-pass (zeros at DC and Nyquist)."""
    a1, a2 = _resonator_coeffs(np.array(freq), np.array(bw))
    return lfilter([1.0, 0.0, -1.0], [1.0, float(a1), float(a2)], x)


def _noise(rng: np.random.Generator, events: list[tuple], n: int) -> np.ndarray:
    """Fricatives (ramped band noise) and plosive bursts (decaying band noise)."""
    out = np.zeros(n)
    for start, end, centre, bw, level, kind in events:
        s0, s1 = start * BLOCK, min(end * BLOCK, n)
        length = s1 - s0
        if length < 16:
            continue
        seg = _resonate(rng.standard_normal(length + 64), centre, bw)[64:]
        if kind == "burst":
            env = np.exp(-np.arange(length) / (0.006 * SAMPLE_RATE))
        else:
            ramp = min(length // 3, int(0.015 * SAMPLE_RATE))
            env = np.ones(length)
            env[:ramp] = np.linspace(0.0, 1.0, ramp)
            env[length - ramp:] = np.linspace(1.0, 0.0, ramp)
        out[s0:s1] += seg / rms(seg) * env * level
    return out


def _recording_channel(rng: np.random.Generator, speech: np.ndarray) -> np.ndarray:
    """DC-blocking high-pass, a bright close-talking microphone, background noise."""
    speech = lfilter([1.0, -1.0], [1.0, -rng.uniform(0.97, 0.995)], speech)
    speech = lfilter([1.0, -rng.uniform(0.6, 0.85)], [1.0], speech)
    noise = _one_pole_lowpass(rng.standard_normal(len(speech)), rng.uniform(0.0, 0.5))
    snr_db = rng.uniform(30.0, 45.0)
    return speech + noise / rms(noise) * rms(speech) * 10.0 ** (-snr_db / 20.0)


def bonafide(rng: np.random.Generator, spk: dict, n: int) -> tuple[np.ndarray, dict]:
    """One bona fide utterance of ``n`` samples (float, arbitrary level) and what the
    vocoders may reuse of it: per-sample ``f0`` (Hz), ``voiced`` (bool), ``voice`` (amplitude)."""
    n_blocks = -(-n // BLOCK) + 1
    plan = _plan(rng, n_blocks, spk)
    f0 = frame_to_sample(_f0_contour(rng, n_blocks, spk), n)
    voice = frame_to_sample(plan["voice"], n)
    speech = _voiced(rng, spk, plan, f0, voice) + _noise(rng, plan["noise_events"], n)
    info = {"f0": f0, "voiced": voice > 0.12, "voice": voice, "speaker": spk}
    return _recording_channel(rng, speech), info
