"""Audio reading, crop/pad rules and the torch datasets (aasist.data.audio / .datasets)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from torch.utils.data import DataLoader

from aasist.data.audio import random_crop, random_start, read_audio, repeat_pad, resample_to_16k
from aasist.data.cache import DecodedCache
from aasist.data.datasets import EvalDataset, TrainDataset, make_generator, seed_worker
from aasist.data.protocols import la_paths, read_cm_protocol
from aasist.errors import DataError

SR = 16000
NB = 400  # a small nb_samp keeps the tests fast; the rules do not depend on its value


def write_flac(path: Path, n: int, seed: int, sr: int = SR) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.integers(-32768, 32768, size=n, dtype=np.int16)
    x[:2] = (-32768, 32767)  # the extremes must survive too
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x, sr, format="FLAC", subtype="PCM_16")
    return x


def make_corpus(root: Path, split: str, lengths: list[int]) -> tuple[list, Path]:
    """A tiny LA-format split: protocol + seeded-noise FLAC files of the given lengths."""
    paths = la_paths(root / "LA", split)
    paths.protocol.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, n in enumerate(lengths):
        utt = f"LA_{split[0].upper()}_{1000000 + i}"
        bona = i % 3 == 0
        lines.append(f"LA_00{i % 4} {utt} - {'-' if bona else 'A0%d' % (1 + i % 6)} "
                     f"{'bonafide' if bona else 'spoof'}")
        write_flac(paths.flac_dir / f"{utt}.flac", n, seed=i)
    paths.protocol.write_text("\n".join(lines) + "\n")
    return read_cm_protocol(paths.protocol), paths.flac_dir


def official_pad(x: np.ndarray, n: int) -> np.ndarray:
    """The official eval rule, restated: first n samples, or the clip tiled and cut."""
    return np.resize(x, n)  # np.resize repeats cyclically, then cuts


# --------------------------------------------------------------------------- read_audio


def test_read_audio_is_bit_identical_to_official_float_conversion(tmp_path):
    x16 = write_flac(tmp_path / "a.flac", 5000, seed=1)
    x, sr = read_audio(tmp_path / "a.flac")
    assert sr == SR and x.dtype == np.float32 and x.shape == (5000,)
    official = torch.Tensor(sf.read(str(tmp_path / "a.flac"))[0]).numpy()  # float64 -> float32
    assert np.array_equal(x.view(np.int32), official.view(np.int32))
    assert np.array_equal(x, x16.astype(np.float64) / 32768)


def test_read_audio_wav_and_stereo(tmp_path):
    rng = np.random.default_rng(0)
    st = rng.integers(-1000, 1000, size=(300, 2), dtype=np.int16)
    sf.write(str(tmp_path / "s.wav"), st, 8000, subtype="PCM_16")
    x, sr = read_audio(tmp_path / "s.wav")
    assert sr == 8000 and x.shape == (300,) and x.dtype == np.float32
    assert np.allclose(x, st.mean(axis=1) / 32768, atol=1e-7)


@pytest.mark.parametrize("kind", ["missing", "empty", "corrupt", "zero_length", "truncated"])
def test_read_audio_bad_file_names_the_file(tmp_path, kind):
    path = tmp_path / f"LA_T_{kind}.flac"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "corrupt":
        path.write_bytes(b"this is not a flac file" * 20)
    elif kind == "zero_length":
        sf.write(str(path), np.zeros(0, dtype=np.int16), SR, format="FLAC", subtype="PCM_16")
    elif kind == "truncated":
        write_flac(path, 20000, seed=3)
        path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(DataError) as info:
        read_audio(path)
    assert str(path) in str(info.value)


# --------------------------------------------------------------------------- crop / pad


@pytest.mark.parametrize("length", [1, 7, NB - 1, NB, NB + 1, 3 * NB + 5])
def test_repeat_pad_matches_official_pad(length):
    x = np.arange(1, length + 1, dtype=np.float32)
    out = repeat_pad(x, NB)
    assert out.shape == (NB,) and out.dtype == np.float32
    assert np.array_equal(out, official_pad(x, NB))


def test_repeat_pad_small_example_and_errors():
    assert repeat_pad(np.array([1, 2, 3]), 8).tolist() == [1, 2, 3, 1, 2, 3, 1, 2]
    assert repeat_pad(np.array([1, 2, 3]), 2).tolist() == [1, 2]
    with pytest.raises(ValueError):
        repeat_pad(np.zeros(0), 4)
    with pytest.raises(ValueError):
        repeat_pad(np.zeros(3), 0)


def test_random_crop_exact_length_does_not_crash_and_returns_clip():
    x = np.arange(NB, dtype=np.int16)
    for _ in range(5):
        assert np.array_equal(random_crop(x, NB), x)
    assert random_start(NB, NB) == 0


@pytest.mark.parametrize("length", [1, 5, NB - 1])
def test_random_crop_shorter_repeat_pads_from_start(length):
    x = np.arange(1, length + 1, dtype=np.float32)
    torch.manual_seed(0)
    assert np.array_equal(random_crop(x, NB), official_pad(x, NB))


def test_random_crop_longer_covers_every_valid_start_uniformly():
    n, extra = 10, 3  # valid starts 0..3 inclusive
    x = np.arange(n + extra, dtype=np.int64)
    torch.manual_seed(0)
    starts = []
    for _ in range(800):
        out = random_crop(x, n)
        assert out.shape == (n,) and np.array_equal(out, np.arange(out[0], out[0] + n))
        starts.append(int(out[0]))
    counts = np.bincount(starts, minlength=extra + 1)
    assert len(counts) == extra + 1  # never beyond len - n
    assert counts.min() > 150  # all 4 starts, roughly 200 each (the last one included)


# --------------------------------------------------------------------------- datasets


LENGTHS = [NB - 150, NB, NB + 1, 2 * NB + 37, 5, 3 * NB]


def test_eval_dataset_first_window_matches_official(tmp_path):
    recs, flac_dir = make_corpus(tmp_path, "dev", LENGTHS)
    ds = EvalDataset(recs, flac_dir, NB)
    assert len(ds) == len(LENGTHS)
    for i, r in enumerate(recs):
        x, utt = ds[i]
        assert utt == r.utt_id and x.dtype == torch.float32 and x.shape == (NB,)
        official = torch.Tensor(official_pad(sf.read(str(flac_dir / f"{utt}.flac"))[0], NB))
        assert torch.equal(x, official)


def test_train_dataset_items_and_labels(tmp_path):
    recs, flac_dir = make_corpus(tmp_path, "train", LENGTHS)
    ds = TrainDataset(recs, flac_dir, NB)
    assert ds.labels == [r.label for r in recs] and ds.labels[0] == 1 and ds.labels[1] == 0
    torch.manual_seed(0)
    for i in range(len(ds)):
        x, y = ds[i]
        assert x.shape == (NB,) and x.dtype == torch.float32 and y == recs[i].label
        full = read_audio(flac_dir / f"{recs[i].utt_id}.flac")[0]
        if len(full) <= NB:
            assert np.array_equal(x.numpy(), official_pad(full, NB))
        else:  # some window of the clip
            windows = np.lib.stride_tricks.sliding_window_view(full, NB)
            assert (windows == x.numpy()).all(axis=1).any()


def test_train_dataset_needs_labels(tmp_path):
    recs, flac_dir = make_corpus(tmp_path, "train", [NB])
    with pytest.raises(DataError, match="needs records with a label"):
        TrainDataset([r.utt_id for r in recs], flac_dir, NB)
    assert EvalDataset([r.utt_id for r in recs], flac_dir, NB)[0][1] == recs[0].utt_id


@pytest.mark.parametrize("dataset_cls", [TrainDataset, EvalDataset])
def test_flac_and_cache_give_identical_items(tmp_path, dataset_cls):
    recs, flac_dir = make_corpus(tmp_path, "train", LENGTHS)
    cache = DecodedCache.build_or_load(recs, flac_dir, tmp_path / "cache" / "train",
                                       progress=False)
    from_flac, from_cache = dataset_cls(recs, flac_dir, NB), dataset_cls(recs, cache, NB)
    for epoch in range(3):
        torch.manual_seed(epoch)
        a = [from_flac[i] for i in range(len(recs))]
        torch.manual_seed(epoch)
        b = [from_cache[i] for i in range(len(recs))]
        for (xa, ya), (xb, yb) in zip(a, b):
            assert ya == yb
            assert xa.dtype == xb.dtype == torch.float32
            assert np.array_equal(xa.numpy().view(np.int32), xb.numpy().view(np.int32))


def test_corrupt_or_empty_flac_error_from_dataset_names_the_file(tmp_path):
    recs, flac_dir = make_corpus(tmp_path, "eval", [NB, NB, NB])
    bad = flac_dir / f"{recs[1].utt_id}.flac"
    bad.write_bytes(b"\x00" * 100)
    ds = EvalDataset(recs, flac_dir, NB)
    ds[0]
    with pytest.raises(DataError, match=recs[1].utt_id):
        ds[1]
    empty = flac_dir / f"{recs[2].utt_id}.flac"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match=f"{empty}: empty audio file"):
        ds[2]


def test_missing_files_and_folder_detected_at_construction(tmp_path):
    recs, flac_dir = make_corpus(tmp_path, "dev", [NB, NB])
    (flac_dir / f"{recs[1].utt_id}.flac").unlink()
    with pytest.raises(DataError, match=rf"1 of 2 audio files .*{recs[1].utt_id}.flac"):
        EvalDataset(recs, flac_dir, NB)
    ds = EvalDataset(recs, flac_dir, NB, check_files=False)  # lazily: the read names the file
    with pytest.raises(DataError, match=rf"not found: .*{recs[1].utt_id}.flac"):
        ds[1]
    with pytest.raises(DataError, match="audio folder not found"):
        TrainDataset(recs, tmp_path / "nowhere", NB)


def test_wrong_sample_rate_is_refused(tmp_path):
    recs, flac_dir = make_corpus(tmp_path, "dev", [NB])
    write_flac(flac_dir / f"{recs[0].utt_id}.flac", NB, seed=0, sr=8000)
    with pytest.raises(DataError, match="sample rate 8000 Hz, expected 16000 Hz"):
        EvalDataset(recs, flac_dir, NB)[0]


def _epoch(ds, seed: int, workers: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    loader = DataLoader(ds, batch_size=3, shuffle=True, num_workers=workers,
                        worker_init_fn=seed_worker, generator=make_generator(seed))
    return [(x.clone(), y.clone()) for x, y in loader]


def test_worker_seeding_is_reproducible(tmp_path):
    recs, flac_dir = make_corpus(tmp_path, "train", [NB + 50 + 7 * i for i in range(12)])
    ds = TrainDataset(recs, flac_dir, NB)
    a, b, c = _epoch(ds, 123, 2), _epoch(ds, 123, 2), _epoch(ds, 124, 2)
    assert all(torch.equal(xa, xb) and torch.equal(ya, yb) for (xa, ya), (xb, yb) in zip(a, b))
    assert not all(torch.equal(xa, xc) for (xa, _), (xc, _) in zip(a, c))
    # with no workers the global torch generator drives the crops
    torch.manual_seed(5)
    d = _epoch(ds, 123, 0)
    torch.manual_seed(5)
    e = _epoch(ds, 123, 0)
    assert all(torch.equal(xd, xe) for (xd, _), (xe, _) in zip(d, e))


def test_seed_worker_seeds_numpy_and_random():
    import random
    torch.manual_seed(42)
    seed_worker(0)
    a = (np.random.rand(), random.random())
    torch.manual_seed(42)
    seed_worker(0)
    assert (np.random.rand(), random.random()) == a
    assert make_generator(3).initial_seed() == 3


def test_eval_dataset_can_resample_instead_of_refusing(tmp_path):
    recs, flac_dir = make_corpus(tmp_path, "dev", [NB])
    write_flac(flac_dir / f"{recs[0].utt_id}.flac", 2 * NB, seed=0, sr=32000)
    x, _ = EvalDataset(recs, flac_dir, NB, resample=True)[0]
    full = read_audio(flac_dir / f"{recs[0].utt_id}.flac")[0]
    assert torch.equal(x, torch.from_numpy(resample_to_16k(full, 32000)[:NB]))
