"""The decoded int16 cache (aasist.data.cache)."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from aasist.data import cache as cache_mod
from aasist.data.cache import DecodedCache
from aasist.data.datasets import TrainDataset
from aasist.data.protocols import la_paths, read_cm_protocol
from aasist.errors import DataError

SR = 16000


def write_flac(path: Path, n: int, seed: int, sr: int = SR, subtype: str = "PCM_16",
               channels: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.integers(-32768, 32768, size=(n, channels) if channels > 1 else n, dtype=np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x, sr, format="FLAC", subtype=subtype)
    return x


def make_corpus(root: Path, lengths: list[int], split: str = "train"):
    paths = la_paths(root / "LA", split)
    paths.protocol.parent.mkdir(parents=True, exist_ok=True)
    lines, audio = [], {}
    for i, n in enumerate(lengths):
        utt = f"LA_T_{2000000 + i}"
        lines.append(f"LA_0001 {utt} - {'-' if i % 2 else 'A01'} {'bonafide' if i % 2 else 'spoof'}")
        audio[utt] = write_flac(paths.flac_dir / f"{utt}.flac", n, seed=i)
    paths.protocol.write_text("\n".join(lines) + "\n")
    return read_cm_protocol(paths.protocol), paths.flac_dir, audio, paths.protocol


def build(recs, flac_dir, prefix):
    return DecodedCache.build_or_load(recs, flac_dir, prefix, progress=False, num_threads=2)


def test_build_layout_and_contents(tmp_path):
    recs, flac_dir, audio, _ = make_corpus(tmp_path, [100, 1, 2500, 640])
    prefix = tmp_path / "cache" / "train"
    c = build(recs, flac_dir, prefix)
    assert (tmp_path / "cache" / "train.int16").stat().st_size == 2 * (100 + 1 + 2500 + 640)
    assert (tmp_path / "cache" / "train.index.npz").is_file()
    assert len(c) == 4 and recs[0].utt_id in c and "LA_T_nope" not in c
    for utt, x in audio.items():
        got = c.get(utt)
        assert got.dtype == np.int16 and np.array_equal(got, x)
    with pytest.raises(DataError, match="LA_T_nope.*not in the decoded cache"):
        c.get("LA_T_nope")
    assert sorted(os.listdir(tmp_path / "cache")) == ["train.index.npz", "train.int16"]  # no temp files


def test_reused_when_nothing_changed(tmp_path, monkeypatch):
    recs, flac_dir, _, _ = make_corpus(tmp_path, [300, 400])
    prefix = tmp_path / "c" / "train"
    build(recs, flac_dir, prefix)

    def no_rebuild(*args, **kwargs):
        raise AssertionError("cache was rebuilt although nothing changed")

    monkeypatch.setattr(DecodedCache, "_build", no_rebuild)
    c = build(list(reversed(recs)), flac_dir, prefix)  # order does not matter
    assert len(c) == 2 and np.array_equal(DecodedCache.open(prefix).get(recs[1].utt_id),
                                          c.get(recs[1].utt_id))


def test_rebuilt_when_protocol_changes(tmp_path):
    recs, flac_dir, audio, protocol = make_corpus(tmp_path, [300, 400, 500])
    prefix = tmp_path / "c" / "train"
    first = build(recs, flac_dir, prefix)
    protocol.write_text("\n".join(protocol.read_text().splitlines()[:2]) + "\n")  # drop a line
    second = build(read_cm_protocol(protocol), flac_dir, prefix)
    assert second.fingerprint != first.fingerprint and len(second) == 2
    assert recs[2].utt_id not in DecodedCache.open(prefix)
    assert (tmp_path / "c" / "train.int16").stat().st_size == 2 * (300 + 400)


def test_rebuilt_when_audio_rewritten(tmp_path):
    recs, flac_dir, audio, _ = make_corpus(tmp_path, [300, 400])
    prefix = tmp_path / "c" / "train"
    build(recs, flac_dir, prefix)
    path = flac_dir / f"{recs[1].utt_id}.flac"
    st = path.stat()
    new = write_flac(path, 400, seed=99)  # same length: size may even be similar
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # coarse-mtime filesystems
    c = build(recs, flac_dir, prefix)
    assert np.array_equal(c.get(recs[1].utt_id), new)
    assert np.array_equal(c.get(recs[0].utt_id), audio[recs[0].utt_id])


def test_damaged_cache_is_rebuilt(tmp_path):
    recs, flac_dir, audio, _ = make_corpus(tmp_path, [300, 400])
    prefix = tmp_path / "c" / "train"
    build(recs, flac_dir, prefix)
    with open(tmp_path / "c" / "train.int16", "r+b") as f:
        f.truncate(10)
    with pytest.raises(DataError, match="expected 1400 bytes"):
        DecodedCache.open(prefix)
    assert np.array_equal(build(recs, flac_dir, prefix).get(recs[1].utt_id), audio[recs[1].utt_id])
    (tmp_path / "c" / "train.index.npz").write_bytes(b"garbage")
    assert len(build(recs, flac_dir, prefix)) == 2


def test_failed_build_leaves_old_cache_and_no_temp_files(tmp_path):
    recs, flac_dir, audio, _ = make_corpus(tmp_path, [300, 400, 500])
    prefix = tmp_path / "c" / "train"
    build(recs, flac_dir, prefix)
    bad = flac_dir / f"{recs[2].utt_id}.flac"
    bad.write_bytes(b"not flac at all" * 10)
    with pytest.raises(DataError, match=str(bad)):
        build(recs, flac_dir, prefix)
    assert sorted(os.listdir(tmp_path / "c")) == ["train.index.npz", "train.int16"]
    old = DecodedCache.open(prefix)  # the previous complete cache is untouched
    assert np.array_equal(old.get(recs[2].utt_id), audio[recs[2].utt_id])


@pytest.mark.parametrize("sr, subtype, channels, fragment", [
    (8000, "PCM_16", 1, "8000 Hz"),
    (SR, "PCM_24", 1, "PCM_24"),
    (SR, "PCM_16", 2, "2 channel"),
])
def test_refuses_audio_that_is_not_16bit_16khz_mono(tmp_path, sr, subtype, channels, fragment):
    recs, flac_dir, _, _ = make_corpus(tmp_path, [300, 300])
    path = flac_dir / f"{recs[1].utt_id}.flac"
    write_flac(path, 300, seed=5, sr=sr, subtype=subtype, channels=channels)
    with pytest.raises(DataError) as info:
        build(recs, flac_dir, tmp_path / "c" / "train")
    assert str(path) in str(info.value) and fragment in str(info.value)
    assert not (tmp_path / "c" / "train.index.npz").exists()


def test_missing_audio_and_empty_protocol(tmp_path):
    recs, flac_dir, _, _ = make_corpus(tmp_path, [300, 300])
    (flac_dir / f"{recs[0].utt_id}.flac").unlink()
    with pytest.raises(DataError, match=rf"1 of 2 audio files .*{recs[0].utt_id}.flac"):
        build(recs, flac_dir, tmp_path / "c" / "train")
    with pytest.raises(DataError, match="protocol is empty"):
        build([], flac_dir, tmp_path / "c" / "train")
    with pytest.raises(DataError, match="audio folder not found"):
        build(recs, tmp_path / "nowhere", tmp_path / "c" / "train")


def test_pickles_without_samples(tmp_path):
    recs, flac_dir, audio, _ = make_corpus(tmp_path, [50_000, 30_000])
    c = build(recs, flac_dir, tmp_path / "c" / "train")
    c.get(recs[0].utt_id)  # opens the memory map
    blob = pickle.dumps(c)
    assert len(blob) < 10_000  # the 160 kB of samples stay on disk
    again = pickle.loads(blob)
    assert np.array_equal(again.get(recs[1].utt_id), audio[recs[1].utt_id])


def test_dataset_refuses_cache_missing_utterances(tmp_path):
    recs, flac_dir, _, _ = make_corpus(tmp_path, [300, 300, 300])
    c = build(recs[:2], flac_dir, tmp_path / "c" / "train")
    with pytest.raises(DataError, match=r"1 of 3 utterances are not in the decoded cache"):
        TrainDataset(recs, c, 200)


def test_cache_version_mismatch_triggers_rebuild(tmp_path, monkeypatch):
    recs, flac_dir, _, _ = make_corpus(tmp_path, [300])
    prefix = tmp_path / "c" / "train"
    build(recs, flac_dir, prefix)
    monkeypatch.setattr(cache_mod, "CACHE_VERSION", cache_mod.CACHE_VERSION + 1)
    with pytest.raises(DataError, match="cache format v1"):
        DecodedCache.open(prefix)
    assert len(build(recs, flac_dir, prefix)) == 1
