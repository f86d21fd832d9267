"""The bona fide voice of the mini corpus: a source-filter speech model.

A glottal pulse train (Rosenberg pulse, declining pitch contour with accents, jitter,
shimmer, aspiration) drives a cascade of six time-varying formant resonators that move
between vowel and consonant targets; fricatives and plosive bursts are shaped noise; voiced
sounds carry breathy turbulence noise above ~3.5 kHz, modulated by the glottal flow, at a
speaker-specific level; there are pauses, a bright close-talking microphone, background
noise and a random gain.  Speech starts 10-40 ms into each clip.  Each speaker has its own
pitch range, formant scaling, voice quality and speaking rate.
"""
from __future__ import annotations

import numpy as np
from scipy.signal import butter, lfilter, sosfilt

from .dsp import (BLOCK, SR, allpole_polys, frame_to_sample, moving_average, one_pole_lowpass,
                  resonate, rms, seeded_rng, tv_allpole)

_HIGHPASS = butter(4, 3500.0, btype="highpass", fs=SR, output="sos")

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


def speaker_voice(seed: int, number: int) -> dict:
    """The voice parameters of speaker LA_<number> in the corpus of ``seed``."""
    rng = seeded_rng(seed, 7919, number)
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


def _plan(rng: np.random.Generator, n_frames: int, spk: dict) -> dict:
    """Frame-level control tracks (5 ms frames) for one utterance."""
    fs = spk["formant_scale"]
    formants = np.zeros((n_frames, 3))
    voice = np.zeros(n_frames)
    noise_events: list[tuple[int, int, float, float, float, str]] = []

    lead = int(rng.uniform(0.01, 0.04) * 200)
    trail = int(rng.uniform(0.04, 0.2) * 200)
    t = lead
    current = _VOWELS[rng.integers(len(_VOWELS))] * fs
    formants[:t] = current
    kinds = ("vowel", "sonorant", "fricative", "plosive", "pause")
    probs = (0.45, 0.2, 0.17, 0.12, 0.06)
    phrase_gain = 1.0
    while t < n_frames - trail:
        kind = kinds[rng.choice(5, p=probs)]
        scale = spk["rate"]
        if kind == "vowel":
            length = int(rng.uniform(14, 40) * scale)
            current = _VOWELS[rng.integers(len(_VOWELS))] * fs * rng.uniform(0.94, 1.06, 3)
            amp = rng.uniform(0.6, 1.0) * phrase_gain
            end = min(t + length, n_frames - trail)
            formants[t:end] = current
            voice[t:end] = amp
        elif kind == "sonorant":
            length = int(rng.uniform(8, 18) * scale)
            s = _SONORANTS[rng.integers(len(_SONORANTS))]
            current = s[:3] * fs
            end = min(t + length, n_frames - trail)
            formants[t:end] = current
            voice[t:end] = s[3] * rng.uniform(0.7, 1.0) * phrase_gain
        elif kind == "fricative":
            length = int(rng.uniform(12, 32) * scale)
            end = min(t + length, n_frames - trail)
            f = _FRICATIVES[rng.integers(len(_FRICATIVES))]
            formants[t:end] = current
            voiced = rng.random() < 0.3
            if voiced:
                voice[t:end] = 0.25 * phrase_gain
            noise_events.append((t, end, f[0] * rng.uniform(0.9, 1.1) * min(fs, 1.1),
                                 f[1], f[2] * rng.uniform(0.6, 1.4) * phrase_gain, "fric"))
        elif kind == "plosive":
            end = _plosive(rng, t, n_frames - trail, scale, current, fs, phrase_gain,
                           formants, noise_events)
        else:
            length = int(rng.uniform(20, 60))
            end = min(t + length, n_frames - trail)
            formants[t:end] = current
            phrase_gain = rng.uniform(0.75, 1.0)
        t = max(end, t + 1)
    formants[t:] = current
    return _smoothed_tracks(formants, voice, noise_events, spk)


def _plosive(rng: np.random.Generator, t: int, limit: int, scale: float, current: np.ndarray,
             fs: float, phrase_gain: float, formants: np.ndarray, noise_events: list) -> int:
    """Closure, burst and maybe aspiration from frame ``t``: fills ``formants`` and
    ``noise_events`` in place and returns the frame after the plosive."""
    closure = int(rng.uniform(6, 14) * scale)
    burst = int(rng.uniform(2, 5))
    end = min(t + closure + burst, limit)
    formants[t:end] = current
    centre = rng.choice([1500.0, 2500.0, 4000.0])
    noise_events.append((min(t + closure, end - 1), end, centre * min(fs, 1.1), 3000.0,
                         rng.uniform(0.3, 0.7) * phrase_gain, "burst"))
    if rng.random() < 0.5:  # aspiration after the burst
        asp_end = min(end + int(rng.uniform(4, 10)), limit)
        formants[end:asp_end] = current
        noise_events.append((end, asp_end, 1800.0 * fs, 2500.0,
                             rng.uniform(0.05, 0.12) * phrase_gain, "fric"))
        end = asp_end
    return end


def _smoothed_tracks(formants: np.ndarray, voice: np.ndarray, noise_events: list,
                     spk: dict) -> dict:
    """Smoothed (frames, 6) formant and bandwidth tracks with the fixed F4-F6 added."""
    n_frames = len(formants)
    fs = spk["formant_scale"]
    formants = moving_average(formants, 7)
    high = np.array([3500.0, 4500.0, 5800.0]) * fs * spk["f456"]
    all_f = np.concatenate([formants, np.broadcast_to(high, (n_frames, 3))], axis=1)
    all_f = np.minimum(all_f, 0.45 * SR)
    bws = np.array([60.0, 90.0, 150.0, 220.0, 300.0, 400.0]) * spk["bw_scale"]
    bws = bws + 0.02 * all_f
    voice = moving_average(moving_average(voice, 3), 3)
    return {"formants": all_f, "bandwidths": bws, "voice": voice, "noise_events": noise_events}


def _f0_contour(rng: np.random.Generator, n_frames: int, spk: dict) -> np.ndarray:
    t = np.arange(n_frames) / 200.0
    dur = n_frames / 200.0
    semis = spk["range"] * rng.uniform(0.4, 0.8) * (0.5 - t / dur)  # declination
    for _ in range(rng.integers(1, 2 + int(dur * 1.5))):
        centre = rng.uniform(0.0, dur)
        width = rng.uniform(0.08, 0.25)
        semis += spk["range"] * rng.uniform(0.2, 0.7) * np.exp(-0.5 * ((t - centre) / width) ** 2)
    drift = moving_average(rng.standard_normal(n_frames + 40), 40)[20:20 + n_frames]
    semis += 4.0 * drift
    return spk["f0"] * 2.0 ** (semis / 12.0)


def _rosenberg(frac: np.ndarray, oq: float, closing: float) -> np.ndarray:
    """Rosenberg glottal flow pulse on the phase within the period, ``frac`` in [0, 1)."""
    tp = (1.0 - closing) * oq
    tn = closing * oq
    g = np.where(frac < tp, 0.5 - 0.5 * np.cos(np.pi * frac / tp), 0.0)
    in_closing = (frac >= tp) & (frac < tp + tn)
    g = np.where(in_closing, np.cos(0.5 * np.pi * (frac - tp) / tn), g)
    return g


def bonafide(rng: np.random.Generator, spk: dict, n: int) -> tuple[np.ndarray, dict]:
    """One clean-ish bona fide utterance of ``n`` samples and its generation parameters."""
    n_frames = -(-n // BLOCK) + 1
    plan = _plan(rng, n_frames, spk)
    f0_frames = _f0_contour(rng, n_frames, spk)
    f0 = frame_to_sample(f0_frames, n)
    voice = frame_to_sample(plan["voice"], n)

    # Glottal source: Rosenberg pulses with jitter (per period) and shimmer.
    phase0 = np.cumsum(f0 / SR)
    jitter = 1.0 + spk["jitter"] * rng.standard_normal(int(phase0[-1]) + 3)
    phase = np.cumsum(f0 * jitter[phase0.astype(np.int64)] / SR) + rng.random()
    period = phase.astype(np.int64)
    frac = phase - period
    oq = spk["open_quotient"]
    glottal = _rosenberg(frac, oq, spk["closing"])
    shimmer = 1.0 + spk["shimmer"] * rng.standard_normal(int(period[-1]) + 2)
    source = np.diff(glottal, prepend=glottal[0]) * shimmer[period]
    source = one_pole_lowpass(source, spk["tilt"])
    source /= rms(source)
    aspiration = rng.standard_normal(n) * (0.3 + glottal) * spk["breath"] * 4.0
    excitation = voice * (source + aspiration)

    polys = allpole_polys(plan["formants"], np.broadcast_to(plan["bandwidths"],
                                                              plan["formants"].shape))
    voiced_out = tv_allpole(excitation, polys, gains=polys.sum(axis=1))
    active = voice > 0.5 * max(voice.max(), 1e-9)
    if active.any():
        voiced_out /= rms(voiced_out[active])
    # Breathy high band: turbulence noise above ~3.5 kHz, modulated by the glottal flow, at
    # a speaker-specific level relative to the voiced sound (consistent 4-8 kHz content).
    hiss = sosfilt(_HIGHPASS, rng.standard_normal(n)) * (0.15 + glottal) * voice
    hiss_active = hiss[active] if active.any() else hiss
    voiced_out += hiss / rms(hiss_active) * 10.0 ** (spk["hiss_db"] / 20.0)

    noise_out = np.zeros(n)
    for start, end, centre, bw, level, kind in plan["noise_events"]:
        s0, s1 = start * BLOCK, min(end * BLOCK, n)
        length = s1 - s0
        if length < 16:
            continue
        seg = resonate(rng.standard_normal(length + 64), centre, bw)[64:]
        if kind == "burst":
            env = np.exp(-np.arange(length) / (0.006 * SR))
        else:
            ramp = min(length // 3, int(0.015 * SR))
            env = np.ones(length)
            env[:ramp] = np.linspace(0.0, 1.0, ramp)
            env[length - ramp:] = np.linspace(1.0, 0.0, ramp)
        noise_out[s0:s1] += seg / rms(seg) * env * level
    speech = voiced_out + noise_out

    # Recording channel: DC-blocking high-pass, random tilt, background noise.
    speech = lfilter([1.0, -1.0], [1.0, -rng.uniform(0.97, 0.995)], speech)
    speech = lfilter([1.0, -rng.uniform(0.6, 0.85)], [1.0], speech)  # bright close-talk mic
    noise = one_pole_lowpass(rng.standard_normal(n), rng.uniform(0.0, 0.5))
    snr_db = rng.uniform(30.0, 45.0)
    speech = speech + noise / rms(noise) * rms(speech) * 10.0 ** (-snr_db / 20.0)
    info = {"f0": f0, "voiced": voice > 0.12, "voice": voice, "speaker": spk}
    return speech, info
