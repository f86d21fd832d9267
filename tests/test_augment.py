"""Augmentation: every transform, the `augment` config key, where transforms run, the
training-only rule and the channel-shifted evaluation copy."""
from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import soundfile as sf
import torch
from scipy.signal import correlate

from aasist.augment import TRANSFORMS, Augmenter, TrainAugmentation, validate_augment
from experiments.shift import CONDITIONS, make_shifted_copy
from aasist.config import load_config
from aasist.errors import ConfigError, DataError
from conftest import CONFIG_DIR, load_script, run_cli, tiny_corpus

FS = 16000


def _speechlike(n=4, length=8000, seed=0) -> np.ndarray:
    """Rows of harmonic tones with noise: band-limited content with a clear structure."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / FS
    rows = []
    for _ in range(n):
        f0 = rng.uniform(100, 200)
        x = sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6)) / k for k in range(1, 30)
                if k * f0 < 7500)
        rows.append(0.1 * x / np.abs(x).max() + 0.002 * rng.standard_normal(length))
    return np.array(rows, dtype=np.float32)


def _run(entry: dict, x: np.ndarray, seed: int = 0) -> np.ndarray:
    """One transform with p = 1 on every row: per clip if it needs the CPU, else batched."""
    aug = Augmenter(validate_augment([{**entry, "p": 1.0}]))
    if aug.clip_stage:
        rng = np.random.default_rng(seed)
        return np.stack([aug.clip(row, rng) for row in x])
    return aug.batch(torch.from_numpy(x), torch.Generator().manual_seed(seed)).numpy()


def _snr_db(x, y):
    return 20 * np.log10(np.linalg.norm(x, axis=-1) / np.linalg.norm(y - x, axis=-1))


def _band_energy(x, low, high):
    spec = np.abs(np.fft.rfft(x * np.hanning(x.shape[-1]), axis=-1)) ** 2   # window: no leakage
    f = np.fft.rfftfreq(x.shape[-1], 1 / FS)
    return spec[..., (f >= low) & (f < high)].sum(-1)


# --------------------------------------------------------------------------- every transform

@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_every_transform_keeps_length_and_dtype_and_is_deterministic(name):
    x = _speechlike()
    y1, y2, y3 = _run({"name": name}, x, 0), _run({"name": name}, x, 0), _run({"name": name}, x, 1)
    assert y1.shape == x.shape and y1.dtype == np.float32 and np.isfinite(y1).all()
    assert np.array_equal(y1, y2), "same seed, different output"
    assert not np.array_equal(y1, y3) and not np.array_equal(y1, x)


def test_noise_snr_is_inside_its_range():
    x = _speechlike(n=32)
    y = _run({"name": "noise", "snr_min": 8, "snr_max": 11}, x)
    snr = _snr_db(x, y)
    assert snr.min() >= 8 - 1e-3 and snr.max() <= 11 + 1e-3 and snr.max() - snr.min() > 0.5


def test_noise_colour_follows_the_slope():
    x = np.zeros((16, 16000), dtype=np.float32) + 1e-3 * _speechlike(16, 16000)
    for slope, high_over_low in ((-6.0, False), (6.0, True)):
        y = _run({"name": "noise", "slope_min": slope, "slope_max": slope}, x) - x
        assert (_band_energy(y, 4000, 8000) > _band_energy(y, 250, 500)).all() == high_over_low


def test_reverb_keeps_level_and_alignment_and_adds_a_tail():
    x = np.zeros((4, 16000), dtype=np.float32)
    x[:, 1000] = 1.0                                  # an impulse shows the room response
    y = _run({"name": "reverb", "rt60_min": 0.5, "rt60_max": 0.5, "drr_min": 0, "drr_max": 0}, x)
    np.testing.assert_allclose(np.sqrt((y ** 2).mean(-1)), np.sqrt((x ** 2).mean(-1)), rtol=1e-4)
    assert (np.abs(y).argmax(-1) == 1000).all() and (np.abs(y[:, :1000]) < 1e-6).all()
    tail = y[:, 1000 + 40:]
    early, late = (tail[:, :800] ** 2).sum(-1), (tail[:, 4000:4800] ** 2).sum(-1)
    # 0.25 s later a 0.5 s RT60 has decayed by 30 dB (energy ratio 1000)
    assert (10 * np.log10(early / late) > 20).all()


def test_bandlimit_removes_energy_outside_the_band():
    x = _speechlike(8, 16000)
    y = _run({"name": "bandlimit", "highpass_min": 400, "highpass_max": 400, "lowpass_min": 2000,
              "lowpass_max": 2000}, x)
    inside = _band_energy(y, 800, 1500) / _band_energy(x, 800, 1500)
    above = _band_energy(y, 4000, 8000) / _band_energy(x, 4000, 8000)
    below = _band_energy(y, 20, 150) / _band_energy(x, 20, 150)
    assert (inside > 0.8).all() and (above < 1e-3).all() and (below < 1e-3).all()


def test_packet_loss_silences_whole_frames_at_most_at_the_rate():
    x = np.ones((16, 16000), dtype=np.float32)
    y = _run({"name": "packet_loss", "rate_min": 0.2, "rate_max": 0.3, "frame_ms": 20}, x)
    frames = y.reshape(16, -1, 320)
    assert set(np.unique(frames.min(-1))) <= {0.0, 1.0}
    assert np.array_equal(frames.min(-1), frames.max(-1))       # frames are kept or lost whole
    lost = 1 - frames.min(-1).mean()
    assert 0.12 < lost < 0.38


@pytest.mark.parametrize("codec", ["mp3", "vorbis", "opus"])
def test_lossy_codecs_stay_aligned_and_change_the_audio(codec):
    x = _speechlike(2, 16000)
    y = _run({"name": "codec", "codecs": [codec], "compression_min": 0.9, "compression_max": 0.9}, x)
    for a, b in zip(x, y):
        lag = np.argmax(correlate(b, a, mode="full", method="fft")) - (len(a) - 1)
        assert lag == 0
    assert 3 < _snr_db(x, y).mean() < 40


@pytest.mark.parametrize("codec", ["gsm", "mulaw", "alaw", "g721", "pcm"])
def test_telephone_is_narrowband_and_aligned(codec):
    x = _speechlike(2, 16000)
    y = _run({"name": "telephone", "codecs": [codec]}, x)
    assert (_band_energy(y, 4200, 8000) < 1e-3 * _band_energy(x, 4200, 8000)).all()
    for a, b in zip(x, y):
        assert np.argmax(correlate(b, a, mode="full", method="fft")) - (len(a) - 1) == 0


def _write_folder(folder, n=3, rate=8000, seconds=0.5, impulse=False):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        data = 0.1 * rng.standard_normal(int(rate * seconds))
        if impulse:
            data = data * np.exp(-np.arange(len(data)) / (0.05 * rate))
            data[:10] = 0
            data[10] = 1.0
        sf.write(folder / f"f{i}.wav", data, rate)
    (folder / "notes.txt").write_text("not audio")


def test_noise_from_a_folder_mixes_files_at_the_drawn_snr(tmp_path):
    _write_folder(tmp_path / "noise")                 # 8 kHz, shorter than the clips: resampled, looped
    x = _speechlike(8, 16000)
    y = _run({"name": "noise", "folder": str(tmp_path / "noise"), "snr_min": 10, "snr_max": 12}, x)
    snr = _snr_db(x, y)
    assert y.shape == x.shape and snr.min() >= 10 - 1e-3 and snr.max() <= 12 + 1e-3


def test_room_responses_from_a_folder_keep_alignment(tmp_path):
    _write_folder(tmp_path / "rirs", impulse=True)
    x = np.zeros((2, 8000), dtype=np.float32)
    x[:, 500] = 0.5
    y = _run({"name": "reverb", "folder": str(tmp_path / "rirs")}, x)
    assert (np.abs(y).argmax(-1) == 500).all() and (np.abs(y[:, :500]) < 1e-6).all()


def test_unreadable_audio_in_a_folder_is_named_not_skipped(tmp_path):
    """A noise folder with a broken file is an error naming it: silently training on fewer
    files than the user gave would change the recipe behind their back."""
    _write_folder(tmp_path / "noise")
    (tmp_path / "noise" / "broken.wav").write_bytes(b"RIFF\x00\x00not really a wav")
    sf.write(tmp_path / "noise" / "empty.flac", np.zeros(0, np.float32), 16000)
    with pytest.raises(ConfigError, match=r"augment\[0\].folder: 2 of 5 audio files in .*noise "
                                          r"cannot be used: .*broken.wav \(Format not recognised.\); .*empty.flac"
                                          r".*replace or remove them"):
        Augmenter(validate_augment([{"name": "noise", "folder": str(tmp_path / "noise")}]))


def test_missing_or_empty_folders_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"augment\[0\].folder.*not found"):
        Augmenter(validate_augment([{"name": "noise", "folder": str(tmp_path / "nope")}]))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no readable audio"):
        Augmenter(validate_augment([{"name": "reverb", "folder": str(tmp_path / "empty")}]))


# --------------------------------------------------------------------------- the config key

@pytest.mark.parametrize("entries, message", [
    ({"name": "noise"}, "must be a list"),
    (["noise"], r"augment\[0\]' must be an object with a 'name'"),
    ([{"name": "echo"}], r"unknown transform 'echo'; valid: rawboost, codec"),
    ([{"name": "noise", "snr": 3}], r"unknown config key 'augment\[0\].snr' .* snr_min"),
    ([{"name": "noise", "p": 1.5}], r"augment\[0\].p' is a probability"),
    ([{"name": "noise", "p": "often"}], r"augment\[0\].p' must be float"),
    ([{"name": "noise"}, {"name": "noise", "snr_min": 20, "snr_max": 10}],
     r"augment\[1\].snr_min' \(20.0\) must not exceed snr_max"),
    ([{"name": "rawboost", "algo": 9}], r"augment\[0\].algo' must be 1-8"),
    ([{"name": "rawboost", "nBands": 2.5}], r"augment\[0\].nBands' must be int"),
    ([{"name": "rawboost", "SNRmin": 40, "SNRmax": 10}], "SNRmin"),
    ([{"name": "codec", "codecs": ["aac"]}], r"augment\[0\].codecs' must be a non-empty list of mp3"),
    ([{"name": "codec", "compression_max": 1.0}], "compression levels must lie in 0-0.99"),
    ([{"name": "telephone", "high_hz": 5000}], "high_hz <= 4000"),
    ([{"name": "bandlimit", "highpass_max": 4000}], "must be below lowpass_min"),
    ([{"name": "packet_loss", "rate_max": 2}], r"rate_max' must be at most 1.0"),
])
def test_bad_entries_are_config_errors_that_name_the_key(entries, message):
    with pytest.raises(ConfigError, match=message):
        validate_augment(entries)


def test_entries_are_completed_with_defaults_and_saved_in_full():
    [entry] = validate_augment([{"name": "rawboost", "p": 0.5}])
    assert entry["algo"] == 5 and entry["nBands"] == 5 and entry["SNRmax"] == 40.0 and entry["p"] == 0.5
    config = load_config(CONFIG_DIR / "mini.conf", ['augment=[{"name": "noise", "p": 0.25}]'])
    assert config["augment"] == [{"name": "noise", "p": 0.25, "snr_min": 5.0, "snr_max": 30.0,
                                  "slope_min": -6.0, "slope_max": 3.0, "folder": ""}]
    assert load_config(CONFIG_DIR / "mini.conf")["augment"] == []


def test_a_bad_entry_on_the_command_line_is_one_error_line(capsys):
    proc = run_cli(capsys, "train", "--config", str(CONFIG_DIR / "mini.conf"), "--set",
                   'augment=[{"name": "rawboost", "algo": 0}]')
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    assert "augment[0].algo" in proc.stderr and "mini.conf" in proc.stderr


@pytest.mark.parametrize("name", ["mini_robust.conf", "AASIST-L_robust.conf"])
def test_robust_configs_load_and_build(name):
    config = load_config(CONFIG_DIR / name)
    aug = Augmenter(config["augment"])
    assert [t.name for t in aug.clip_stage] == ["codec", "telephone"]
    assert {t.name for t in aug.batch_stage} >= {"rawboost", "noise", "reverb"}
    base = load_config(CONFIG_DIR / name.replace("_robust", ""))
    differ = {k for k in config if config[k] != base[k]}
    assert differ <= {"augment", "model_path"}


# --------------------------------------------------------------------------- where they run

def test_list_order_decides_what_runs_per_clip_and_what_on_the_batch():
    aug = Augmenter(validate_augment([{"name": "noise"}, {"name": "codec"}, {"name": "rawboost"},
                                      {"name": "reverb"}]))
    assert [t.name for t in aug.clip_stage] == ["noise", "codec"]
    assert [t.name for t in aug.batch_stage] == ["rawboost", "reverb"]


def test_batch_stage_applies_each_transform_to_about_p_of_the_rows():
    aug = Augmenter(validate_augment([{"name": "noise", "p": 0.3}]))
    x = torch.from_numpy(_speechlike(200, 2000))
    y = aug.batch(x, torch.Generator().manual_seed(0))
    changed = (y != x).any(-1).float().mean().item()
    assert 0.2 < changed < 0.4


def test_train_augmentation_is_a_function_of_seed_epoch_and_batch():
    entries = validate_augment([{"name": "rawboost", "p": 1.0}, {"name": "noise", "p": 0.5}])
    x = torch.from_numpy(_speechlike(8, 4000))
    a, b = TrainAugmentation(entries, seed=3), TrainAugmentation(entries, seed=3)
    assert torch.equal(a(x, 2, 7), b(x, 2, 7))
    assert not torch.equal(a(x, 2, 7), a(x, 2, 8)) and not torch.equal(a(x, 2, 7), a(x, 3, 7))
    assert not torch.equal(a(x, 2, 7), TrainAugmentation(entries, seed=4)(x, 2, 7))


def test_clip_stage_dataset_is_reproducible_and_picklable(tmp_path):
    entries = validate_augment([{"name": "codec", "p": 1.0}, {"name": "rawboost", "p": 1.0}])
    clean = [(torch.from_numpy(row), i % 2) for i, row in enumerate(_speechlike(4, 4000))]
    dataset = TrainAugmentation(entries, seed=0).wrap(clean)
    pickle.loads(pickle.dumps(dataset))               # DataLoader workers under spawn
    torch.manual_seed(0)
    first = [dataset[i][0] for i in range(4)]
    torch.manual_seed(0)
    again = [dataset[i][0] for i in range(4)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert all(not torch.equal(a, c[0]) and a.dtype == torch.float32 for a, c in zip(first, clean))
    batch_only = TrainAugmentation(validate_augment([{"name": "noise"}]), seed=0)
    assert batch_only.wrap(clean) is clean and not batch_only.per_clip
    assert TrainAugmentation(entries, seed=0).per_clip


@pytest.mark.slow
def test_per_clip_augmentation_gets_loader_workers(tmp_path):
    from aasist.augment import train_augmentation
    from aasist.config import loader_workers
    from aasist.train import _train_loader

    root = tiny_corpus(tmp_path / "c", seed=2)
    workers = {}
    for name, augment in (("none", "[]"), ("batch only", '[{"name": "noise"}]'),
                          ("per clip", '[{"name": "codec"}, {"name": "noise"}]')):
        config = load_config(CONFIG_DIR / "AASIST-L.conf", [
            f"database_path={root}", "use_cache=true", "batch_size=2", f"augment={augment}"])
        loader, _, _ = _train_loader(config, torch.device("cpu"), 0, 1, train_augmentation(config, 0))
        workers[name] = loader.num_workers
    # with the cache, loading stays in-process unless codecs must run per clip on the CPU
    assert workers == {"none": 0, "batch only": 0,
                       "per clip": loader_workers({"num_workers": -1}, clip_work=True)}
    assert workers["per clip"] >= 2


def test_evaluation_never_augments(tmp_path):
    import aasist
    from aasist.evaluate import evaluate_split

    corpus = tiny_corpus(tmp_path / "c", seed=2, train=(2, 2), dev=(3, 3), eval=(3, 3))
    overrides = [f"database_path={corpus}", "use_cache=false", "num_workers=0", "mini_corpus=false"]
    robust = load_config(CONFIG_DIR / "mini_robust.conf", overrides)
    plain = load_config(CONFIG_DIR / "mini.conf", overrides)
    torch.manual_seed(0)
    model = aasist.build_model(plain["model_config"])
    a = evaluate_split(model, robust, "eval", torch.device("cpu"), progress=False)
    b = evaluate_split(model, plain, "eval", torch.device("cpu"), progress=False)
    assert a["eer_percent"] == b["eer_percent"] and a == b


# --------------------------------------------------------------------------- shifted copy

@pytest.fixture(scope="module")
def shifted(tmp_path_factory):
    base = tmp_path_factory.mktemp("shift")
    corpus = tiny_corpus(base / "clean", seed=4, train=(2, 2), dev=(2, 2), eval=(6, 10))
    return corpus, make_shifted_copy(corpus, base / "shifted", seed=0, progress=False), base


def test_shifted_copy_has_the_layout_evaluate_reads(shifted):
    from aasist.data.protocols import la_paths, read_cm_protocol

    corpus, root, _ = shifted
    src, out = la_paths(corpus, "eval"), la_paths(root, "eval")
    records = read_cm_protocol(out.protocol)
    assert out.protocol.read_text() == src.protocol.read_text()
    assert out.asv_scores.read_text() == src.asv_scores.read_text()
    conditions = dict(line.split() for line in
                      (out.flac_dir.parent / "shift_conditions.txt").read_text().splitlines())
    assert set(conditions) == {r.utt_id for r in records} and len(set(conditions.values())) >= 2
    for record in records:
        clean, rate = sf.read(src.flac_dir / f"{record.utt_id}.flac", dtype="float32")
        moved, rate2 = sf.read(out.flac_dir / f"{record.utt_id}.flac", dtype="float32")
        assert rate == rate2 == FS and len(clean) == len(moved) and np.abs(moved).max() <= 1
        assert not np.array_equal(clean, moved)


@pytest.mark.slow
def test_shifted_copy_is_reproducible_and_not_redone(shifted):
    corpus, root, base = shifted
    flac = sorted((root / "ASVspoof2019_LA_eval" / "flac").iterdir())
    stamps = [p.stat().st_mtime_ns for p in flac]
    assert make_shifted_copy(corpus, base / "shifted", seed=0, progress=False) == root
    assert [p.stat().st_mtime_ns for p in flac] == stamps
    other = make_shifted_copy(corpus, base / "again", seed=0, progress=False)
    third = make_shifted_copy(corpus, base / "seed1", seed=1, progress=False)
    same = [(other / "ASVspoof2019_LA_eval" / "flac" / p.name).read_bytes() == p.read_bytes() for p in flac]
    diff = [(third / "ASVspoof2019_LA_eval" / "flac" / p.name).read_bytes() != p.read_bytes() for p in flac]
    assert all(same) and any(diff)


@pytest.mark.slow
def test_shifted_copy_is_redone_when_its_source_changes(tmp_path):
    corpus = tiny_corpus(tmp_path / "clean", seed=5, train=(1, 1), dev=(1, 1), eval=(2, 2))
    root = make_shifted_copy(corpus, tmp_path / "shifted", progress=False)
    before = {p.name for p in (root / "ASVspoof2019_LA_eval" / "flac").iterdir()}
    tiny_corpus(tmp_path / "clean", seed=6, train=(1, 1), dev=(1, 1), eval=(2, 2))  # same path
    assert make_shifted_copy(corpus, tmp_path / "shifted", progress=False) == root
    after = {p.name for p in (root / "ASVspoof2019_LA_eval" / "flac").iterdir()}
    assert after == {p.name for p in (corpus / "ASVspoof2019_LA_eval" / "flac").iterdir()} != before


@pytest.mark.slow
def test_evaluate_shifted_scores_the_copy_per_condition(shifted, tmp_path):
    import aasist
    from experiments.shift import evaluate_shifted

    corpus, root, base = shifted
    config = load_config(CONFIG_DIR / "mini.conf", [f"database_path={corpus}", "use_cache=false",
                                                    "num_workers=0", "mini_corpus=false"])
    torch.manual_seed(0)
    torch.save(aasist.build_model(config["model_config"]).state_dict(), tmp_path / "w.pth")
    report = evaluate_shifted(config, tmp_path / "w.pth", base / "shifted", tmp_path / "out",
                              device="cpu", progress=False)
    assert report["shifted_root"] == str(root) and (tmp_path / "out" / "eval_scores.txt").is_file()
    assert 0 <= report["eer_percent"] <= 100 and report["by_condition"]
    assert set(report["by_condition"]) <= set(CONDITIONS)


def test_shifted_copy_refuses_its_source_and_foreign_audio(shifted):
    corpus, _root, base = shifted
    with pytest.raises(DataError, match="another folder"):
        make_shifted_copy(corpus, corpus.parent, progress=False)
    with pytest.raises(DataError, match="not written by make_shifted_copy"):
        make_shifted_copy(base / "shifted" / "LA", base / "clean", progress=False)
    with pytest.raises(DataError, match="protocol not found"):
        make_shifted_copy(base / "nowhere", base / "x", progress=False)


@pytest.mark.slow
def test_script_makes_the_copy(shifted, tmp_path):
    import subprocess
    import sys

    from conftest import ROOT

    corpus, _root, _ = shifted
    proc = subprocess.run([sys.executable, "-m", "experiments.shift", "--src", str(corpus),
                           "--dest", str(tmp_path / "s"), "--quiet"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "s" / "LA" / ".shifted_eval.json").is_file() and "evaluate" in proc.stdout
    bad = subprocess.run([sys.executable, "-m", "experiments.shift", "--src", str(tmp_path / "no"),
                          "--dest", str(tmp_path / "t")], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert bad.returncode == 1 and bad.stderr.startswith("error:") and "Traceback" not in bad.stderr
    assert json.loads((tmp_path / "s" / "LA" / ".shifted_eval.json").read_text())["seed"] == 0


def test_eer_by_condition_splits_a_score_file_by_shift_condition(shifted, tmp_path):
    from experiments.shift import eer_by_condition
    from aasist.data.protocols import read_cm_protocol

    _corpus, root, _ = shifted
    records = read_cm_protocol(root / "ASVspoof2019_LA_cm_protocols" / "ASVspoof2019.LA.cm.eval.trl.txt")
    conditions = dict(line.split() for line in
                      (root / "ASVspoof2019_LA_eval" / "shift_conditions.txt").read_text().splitlines())
    both = sorted(c for c in set(conditions.values())
                  if {r.key for r in records if conditions[r.utt_id] == c} == {"bonafide", "spoof"})
    worst = both[0]
    lines = []
    for i, r in enumerate(records):       # perfect scores, except one condition's reversed
        good = 1.0 if r.key == "bonafide" else 0.0
        score = 1 - good if conditions[r.utt_id] == worst else good
        lines.append(f"{r.utt_id} {r.attack} {r.key} {score + 0.001 * i}\n")
    (tmp_path / "scores.txt").write_text("".join(lines))
    eers = eer_by_condition(tmp_path / "scores.txt", root)
    assert set(eers) == set(both) and eers[worst] == 100
    assert all(v == 0 for k, v in eers.items() if k != worst)


def test_fine_tuning_configs_continue_the_demo_and_differ_only_in_augmentation(tmp_path):
    script = load_script("robust", "experiments")
    control = load_config(CONFIG_DIR / "mini_finetune.conf")
    robust = load_config(CONFIG_DIR / "mini_robust_finetune.conf")
    assert {k for k in robust if robust[k] != control[k]} == {"augment"}
    assert robust["augment"] == load_config(CONFIG_DIR / "mini_robust.conf")["augment"]
    mini = load_config(CONFIG_DIR / "mini.conf")
    # as many epochs as the demo, at a lower learning rate (README: 12 do twice what 6 did)
    assert {k for k in mini if mini[k] != control[k]} == {"init_weights", "optim_config"}
    assert control["init_weights"] == "runs/mini/weights/last.pth"  # where the demo writes
    # the experiment starts each fine-tuning run from its own mini run of the same seed
    with pytest.raises(ConfigError, match="list mini before mini_robust_finetune"):
        script._start_from_own_run(robust, "mini_robust_finetune", 3, tmp_path)
    (tmp_path / "mini_s3").mkdir()
    (tmp_path / "mini_s3" / "metrics.json").write_text(json.dumps({"final_weights": "w/last.pth"}))
    assert script._start_from_own_run(robust, "mini_robust_finetune", 3, tmp_path)["init_weights"] == "w/last.pth"
    official = {**robust, "init_weights": "official:AASIST-L"}
    assert script._start_from_own_run(official, "x", 3, tmp_path) == official


def test_robust_experiment_scales_augmentation_and_starts_from_another_folder(tmp_path):
    script = load_script("robust", "experiments")
    (tmp_path / "base" / "mini_s1").mkdir(parents=True)
    (tmp_path / "base" / "mini_s1" / "metrics.json").write_text(json.dumps({"final_weights": "b/last.pth"}))
    args = script.parse_args(["--out", str(tmp_path / "new"), "--start-from", str(tmp_path / "base"),
                              "--p-scale", "0.5", "--data", str(tmp_path / "data")])
    config = script.run_config("mini_robust_finetune", 1, args)
    listed = load_config(CONFIG_DIR / "mini_robust_finetune.conf")["augment"]
    assert [t["p"] for t in config["augment"]] == [t["p"] / 2 for t in listed]
    assert [{**t, "p": 0} for t in config["augment"]] == [{**t, "p": 0} for t in listed]
    assert config["init_weights"] == "b/last.pth" and config["mini_seed"] == 1
    heavy = script.run_config("mini_robust", 1, script.parse_args(["--p-scale", "3"]))
    assert max(t["p"] for t in heavy["augment"]) == 1.0  # capped
    # without --start-from the base run is looked for in --out
    with pytest.raises(ConfigError, match="--start-from"):
        script.run_config("mini_robust_finetune", 1, script.parse_args(["--out", str(tmp_path / "new")]))
    with pytest.raises(SystemExit):
        script.parse_args(["--p-scale", "-1"])
