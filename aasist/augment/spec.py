"""The config key ``augment``: the named transforms, their parameters and their validation.

``augment`` is a list of transforms, applied in list order to each training window, each
with probability ``p``::

    "augment": [
        {"name": "codec", "p": 0.3, "codecs": ["mp3", "opus"]},
        {"name": "noise", "p": 0.4, "snr_min": 5, "snr_max": 30},
        {"name": "rawboost", "p": 0.5, "algo": 5}
    ]

Missing parameters take the defaults of `TRANSFORMS`; unknown names or parameters, wrong
types and impossible ranges are ConfigErrors naming ``augment[i].key``. Whether a codec
or a folder is usable is checked when the transforms are built (`aasist.augment.pipeline`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from ..data.audio import SAMPLE_RATE
from ..errors import ConfigError
from . import codecs
from .rawboost import PARAM_NAMES as RAWBOOST_PARAMS, RawBoostParams

Param = tuple[type, Any, str]   # (type, default, what it does)


@dataclass(frozen=True)
class TransformSpec:
    """A named transform: its parameters, range checks and how to build it."""
    doc: str
    params: dict[str, Param]
    ranges: tuple[tuple[str, str], ...] = ()        # (min key, max key) pairs
    check: Callable[[dict, str], None] | None = None


def _rawboost_params() -> dict[str, Param]:
    defaults = RawBoostParams()
    docs = {"algo": "1 LnL, 2 ISD, 3 SSI, 4 = 1+2+3, 5 = 1+2, 6 = 1+3, 7 = 2+3, 8 = 1 || 2"}
    return {name: (type(getattr(defaults, name)), getattr(defaults, name),
                   docs.get(name, "as in RawBoost-antispoofing")) for name in RAWBOOST_PARAMS}


def _fail(key: str, message: str) -> None:
    raise ConfigError(f"config key '{key}' {message}")


def _check_rawboost(v: dict, key: str) -> None:
    if not 1 <= v["algo"] <= 8:
        _fail(f"{key}.algo", f"must be 1-8, got {v['algo']}")
    for name in ("nBands", "N_f", "minCoeff"):
        if v[name] < 1:
            _fail(f"{key}.{name}", f"must be at least 1, got {v[name]}")
    if v["maxCoeff"] > 1024:
        _fail(f"{key}.maxCoeff", f"must be at most 1024 taps, got {v['maxCoeff']}")
    if v["minF"] < 0 or v["maxF"] > SAMPLE_RATE / 2:
        _fail(f"{key}.minF", f"and maxF must lie in 0-{SAMPLE_RATE // 2} Hz")
    if v["minBW"] <= 0:
        _fail(f"{key}.minBW", f"must be positive, got {v['minBW']}")
    if not 0 <= v["P"] <= 100 or v["g_sd"] < 0:
        _fail(f"{key}.P", "must be a percentage (0-100) and g_sd non-negative")


def _check_codecs(table: dict) -> Callable[[dict, str], None]:
    def check(v: dict, key: str) -> None:
        bad = [c for c in v["codecs"] if c not in table]
        if not v["codecs"] or bad:
            _fail(f"{key}.codecs", f"must be a non-empty list of {', '.join(table)}, got {v['codecs']!r}")
        if "compression_min" in v and not 0 <= v["compression_min"] <= v["compression_max"] <= codecs.MAX_COMPRESSION:
            _fail(f"{key}.compression_max", f"compression levels must lie in 0-{codecs.MAX_COMPRESSION}")
        if "low_hz" in v and not 0 < v["low_hz"] < v["high_hz"] <= codecs.TELEPHONE_RATE / 2:
            _fail(f"{key}.low_hz", f"and high_hz must satisfy 0 < low_hz < high_hz <= {codecs.TELEPHONE_RATE // 2}")
    return check


def _check_positive(*names: str, upper: dict | None = None) -> Callable[[dict, str], None]:
    def check(v: dict, key: str) -> None:
        for name in names:
            if v[name] < 0:
                _fail(f"{key}.{name}", f"must not be negative, got {v[name]}")
        for name, limit in (upper or {}).items():
            if v[name] > limit:
                _fail(f"{key}.{name}", f"must be at most {limit}, got {v[name]}")
    return check


def _check_bandlimit(v: dict, key: str) -> None:
    if v["highpass_min"] < 0:
        _fail(f"{key}.highpass_min", f"must not be negative, got {v['highpass_min']}")
    if v["highpass_max"] >= v["lowpass_min"]:
        _fail(f"{key}.highpass_max", "must be below lowpass_min (the pass band would be empty)")
    if not 1 <= v["order"] <= 20:
        _fail(f"{key}.order", f"must be 1-20, got {v['order']}")


FOLDER_DOC = "folder of audio files to use instead of generated ones ('' = generate)"

TRANSFORMS: dict[str, TransformSpec] = {
    "rawboost": TransformSpec(
        "RawBoost (Tak et al. 2022), on the batch", _rawboost_params(),
        (("minF", "maxF"), ("minBW", "maxBW"), ("minCoeff", "maxCoeff"), ("minG", "maxG"),
         ("minBiasLinNonLin", "maxBiasLinNonLin"), ("SNRmin", "SNRmax")), _check_rawboost),
    "codec": TransformSpec(
        "lossy codec round trip (libsndfile), per clip",
        {"codecs": (list, ["mp3", "vorbis", "opus"], "drawn uniformly: mp3, vorbis, opus"),
         "compression_min": (float, 0.5, "libsndfile compression level, 0 = best quality"),
         "compression_max": (float, 0.95, "towards 0.99 = lowest bitrate")},
        (("compression_min", "compression_max"),), _check_codecs(codecs.LOSSY_CODECS)),
    "telephone": TransformSpec(
        "8 kHz narrowband call with a telephone codec, per clip",
        {"codecs": (list, ["gsm", "mulaw", "alaw", "g721"], "drawn uniformly: gsm, mulaw, alaw, g721, pcm"),
         "low_hz": (float, 300.0, "band-pass lower edge"), "high_hz": (float, 3400.0, "band-pass upper edge")},
        (), _check_codecs(codecs.TELEPHONE_CODECS)),
    "noise": TransformSpec(
        "additive noise at a drawn SNR: coloured (on the batch) or from files (per clip)",
        {"snr_min": (float, 5.0, "dB"), "snr_max": (float, 30.0, "dB"),
         "slope_min": (float, -6.0, "generated noise colour, dB per octave (0 white, -3 pink)"),
         "slope_max": (float, 3.0, "dB per octave"), "folder": (str, "", FOLDER_DOC)},
        (("snr_min", "snr_max"), ("slope_min", "slope_max"))),
    "reverb": TransformSpec(
        "room reverberation: simulated (on the batch) or measured responses (per clip)",
        {"rt60_min": (float, 0.2, "s"), "rt60_max": (float, 0.8, "s"),
         "drr_min": (float, 0.0, "direct-to-reverberant ratio, dB"), "drr_max": (float, 12.0, "dB"),
         "folder": (str, "", FOLDER_DOC)},
        (("rt60_min", "rt60_max"), ("drr_min", "drr_max")),
        _check_positive("rt60_min", upper={"rt60_max": 5.0})),
    "bandlimit": TransformSpec(
        "band limits of a cheap microphone or channel, on the batch",
        {"highpass_min": (float, 0.0, "Hz (0 = no high-pass)"), "highpass_max": (float, 300.0, "Hz"),
         "lowpass_min": (float, 3400.0, "Hz"), "lowpass_max": (float, 8000.0, "Hz (>= 8000 = no low-pass)"),
         "order": (int, 6, "filter order: 6 dB per octave each")},
        (("highpass_min", "highpass_max"), ("lowpass_min", "lowpass_max")), _check_bandlimit),
    "packet_loss": TransformSpec(
        "lost VoIP frames (silenced), on the batch",
        {"rate_min": (float, 0.0, "loss probability per frame"), "rate_max": (float, 0.1, ""),
         "frame_ms": (float, 20.0, "frame length, ms")},
        (("rate_min", "rate_max"),), _check_positive("rate_min", upper={"rate_max": 1.0})),
}


# --------------------------------------------------------------------------- validation

def _coerce(value: Any, kind: type, key: str) -> Any:
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind in (str, list) and isinstance(value, kind):
        return list(value) if kind is list else value
    raise ConfigError(f"config key '{key}' must be {kind.__name__}, got {value!r}")


def validate_entry(entry: Any, index: int) -> dict:
    """One ``augment`` entry -> a complete, checked dict (``name``, ``p``, every parameter)."""
    key = f"augment[{index}]"
    if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
        raise ConfigError(f"config key '{key}' must be an object with a 'name' "
                          f"({', '.join(TRANSFORMS)}), got {entry!r}")
    name = entry["name"]
    if name not in TRANSFORMS:
        raise ConfigError(f"config key '{key}.name': unknown transform {name!r}; valid: "
                          f"{', '.join(TRANSFORMS)}")
    spec = TRANSFORMS[name]
    unknown = sorted(set(entry) - {"name", "p"} - set(spec.params))
    if unknown:
        raise ConfigError(f"unknown config key '{key}.{unknown[0]}' for '{name}'; valid: p, "
                          f"{', '.join(spec.params)}")
    out = {"name": name, "p": _coerce(entry.get("p", 1.0), float, f"{key}.p")}
    if not 0 <= out["p"] <= 1:
        _fail(f"{key}.p", f"is a probability and must lie in 0-1, got {out['p']}")
    for param, (kind, default, _doc) in spec.params.items():
        out[param] = (_coerce(entry[param], kind, f"{key}.{param}") if param in entry
                      else (list(default) if isinstance(default, list) else default))
    for low, high in spec.ranges:
        if out[low] > out[high]:
            _fail(f"{key}.{low}", f"({out[low]}) must not exceed {high} ({out[high]})")
    if spec.check is not None:
        spec.check(out, key)
    return out


def validate_augment(entries: Any) -> list[dict]:
    """The whole ``augment`` list, validated and completed with defaults."""
    if not isinstance(entries, list):
        raise ConfigError(f"config key 'augment' must be a list of transforms, got {entries!r}")
    return [validate_entry(entry, i) for i, entry in enumerate(entries)]


__all__ = ["SAMPLE_RATE", "TRANSFORMS", "TransformSpec", "validate_augment", "validate_entry"]
