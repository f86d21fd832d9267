"""experiments/benchmark.py: every section runs end to end at a tiny scale (--smoke).

The numbers of a smoke run mean nothing; these tests check that each section still runs
against the current package, reports the rows and columns the README's tables use, and that
the columns hold the relations their definitions promise (rates are counts over the timed
seconds, x real time is a rate times the audio length, speedups are ratios of rates, ...).
"""
from __future__ import annotations

import json
import math

import pytest

from experiments import benchmark

CLIP_SECONDS = 64600 / 16000  # the model's input window, in seconds of 16 kHz audio
SMOKE_ROUNDS, SMOKE_REPEATS = 1, 1  # what --smoke sets: timed samples per row = rounds x repeats


def _smoke(tmp_path, capsys, section: str) -> list[dict]:
    out = tmp_path / "rows.json"
    benchmark.main(["--sections", section, "--smoke", "--json", str(out)])
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert {"cpu", "cores", "torch", "load_avg_1min"} <= set(report["machine"])
    rows = report["rows"]
    assert rows and all(r["section"] == section for r in rows)
    assert f"## {section}" in printed  # the section's table was printed
    return rows


def _positive(row: dict, *keys: str) -> None:
    for key in keys:
        assert isinstance(row[key], (int, float)) and math.isfinite(row[key]) and row[key] > 0, key


def _same(value, expected) -> None:
    """Two ways of computing one quantity agree (up to float rounding)."""
    assert value == pytest.approx(expected, rel=1e-9, abs=0), (value, expected)


def _devices() -> list[str]:
    import torch

    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _model_row_relations(r: dict) -> None:
    """A model row: one median of n timed steps of a batch, and rates derived from it."""
    _positive(r, "median_s", "clips_per_s", "x_realtime", "peak_rss_mb")
    assert r["n"] == SMOKE_ROUNDS * SMOKE_REPEATS
    _same(r["clips_per_s"], r["batch"] / r["median_s"])
    _same(r["x_realtime"], r["clips_per_s"] * CLIP_SECONDS)
    assert r["mode"] in ("eval", "train") and r["amp"] is False  # no autocast on the CPU


@pytest.mark.slow
def test_model_section(tmp_path, capsys):
    rows = _smoke(tmp_path, capsys, "model")
    assert [(r["model"], r["mode"], r["impl"], r["device"]) for r in rows] == [
        ("AASIST-L", "eval", "ours", "cpu"), ("AASIST-L", "train", "ours", "cpu")]
    for r in rows:
        assert r["batch"] == 1 and r["speedup_vs_official"] is None
        _model_row_relations(r)
        assert r["cpu_isa"] == "default" and r["layout"] in ("channels_last", "contiguous")
        assert "max_abs_logit_diff_vs_ours" not in r  # nothing to compare ours with


def test_data_section(tmp_path, capsys):
    rows = _smoke(tmp_path, capsys, "data")
    assert sorted((r["impl"], r["num_workers"]) for r in rows) == [
        ("cache", 0), ("cache", 2), ("flac", 0), ("flac", 2)]
    rate = {(r["impl"], r["num_workers"]): r["items_per_s"] for r in rows}
    for r in rows:
        _positive(r, "items_per_s", "speedup_vs_flac")
        if r["impl"] == "flac":
            assert r["speedup_vs_flac"] == 1.0
        # the speedup is the cache's rate over FLAC's with the same number of workers
        _same(r["speedup_vs_flac"], r["items_per_s"] / rate[("flac", r["num_workers"])])


def test_eval_section(tmp_path, capsys):
    (row,) = _smoke(tmp_path, capsys, "eval")
    assert row["model"] == "AASIST-L" and row["clips"] == 2 and row["device"] == "cpu"
    _positive(row, "clips_per_s", "x_realtime")
    _same(row["x_realtime"], row["clips_per_s"] * CLIP_SECONDS)


@pytest.mark.slow
def test_predict_section(tmp_path, capsys):
    (row,) = _smoke(tmp_path, capsys, "predict")
    assert row["files"] == 3 and row["windows"] == 3 and row["seconds_per_file"] == 1.0
    _positive(row, "files_per_s", "x_real_time", "wall_s", "batch_size", "torch_threads")
    _same(row["files_per_s"], row["files"] / row["wall_s"])
    _same(row["x_real_time"], row["files"] * row["seconds_per_file"] / row["wall_s"])
    _same(row["x_real_time"], row["files_per_s"] * row["seconds_per_file"])
    assert row["cpu_s"] >= 0 and row["load_avg_1min_before"] >= 0
    assert isinstance(row["batch_size"], int) and isinstance(row["torch_threads"], int)


@pytest.mark.slow
def test_stream_section(tmp_path, capsys):
    rows = _smoke(tmp_path, capsys, "stream")
    assert [r["hop_s"] for r in rows] == [0.25, 0.5, 1.0]
    for r in rows:
        assert r["audio_s"] == 1.5 and r["windows"] >= 1 and r["skipped"] >= 0
        _positive(r, "p50_latency_ms", "p95_latency_ms", "forward_ms", "real_time_factor")
        assert r["p95_latency_ms"] >= r["p50_latency_ms"]
        _same(r["real_time_factor"], r["forward_ms"] / (1000 * r["hop_s"]))
        # every hop of the clip is due once (the first hop is past the model's 0.145 s
        # minimum), plus the window ending at the last sample when the clip is not a whole
        # number of hops: each due window is either scored or skipped, never lost
        total, hop = round(16000 * r["audio_s"]), round(16000 * r["hop_s"])
        assert r["windows"] + r["skipped"] == total // hop + (total % hop != 0), r


@pytest.mark.slow
def test_model_section_held_to_avx2_names_its_kernels(tmp_path, capsys):
    out = tmp_path / "rows.json"
    benchmark.main(["--sections", "model", "--smoke", "--cpu-isa", "default,avx2", "--json", str(out)])
    report = json.loads(out.read_text())
    assert {"cpu", "cpu_flags", "aten_capability", "selu_kernel"} <= set(report["machine"])
    rows = report["rows"]
    assert sorted({r["cpu_isa"] for r in rows}) == ["avx2", "default"]
    assert sorted((r["cpu_isa"], r["mode"]) for r in rows) == [
        ("avx2", "eval"), ("avx2", "train"), ("default", "eval"), ("default", "train")]
    for r in rows:
        _model_row_relations(r)
        assert r["layout"] in ("channels_last", "contiguous") and r["selu"] in ("torch", "exp")
    held = [r for r in rows if r["cpu_isa"] == "avx2"]
    # held to AVX2, ATen reports it and training takes the default layout (see runtime.conv_layout)
    assert all(r["isa"] == "AVX2" for r in held)
    assert [r["layout"] for r in held if r["mode"] == "train"] == ["contiguous"]


@pytest.mark.slow
def test_epoch_section_with_a_variant(tmp_path, capsys):
    out = tmp_path / "rows.json"
    benchmark.main(["--sections", "epoch", "--smoke", "--json", str(out),
                    "--epoch-variant", "bf16_autotune=amp=true;cudnn_benchmark_toggle=true"])
    assert "## epoch" in capsys.readouterr().out
    rows = json.loads(out.read_text())["rows"]
    assert [(r["impl"], r["config"], r["overrides"]) for r in rows] == [
        ("ours", "AASIST-L", ""), ("bf16_autotune", "AASIST-L", "amp=true;cudnn_benchmark_toggle=true")]
    for row in rows:
        assert row["clips"] == 4 and row["dev_clips"] == 2 and row["speedup_vs_official"] is None
        assert row["batch"] == 2 and row["device"] == _devices()[-1]
        _positive(row, "train_s", "score_s", "train_clips_per_s", "dev_clips_per_s", "la_epoch_min",
                  "recipe_100_epochs_h", "peak_rss_mb")
        _same(row["train_clips_per_s"], row["clips"] / row["train_s"])
        _same(row["dev_clips_per_s"], row["dev_clips"] / row["score_s"])
        # an LA epoch: its training clips at this training rate plus its dev clips at this scoring rate
        la_epoch_s = (benchmark.LA_TRAIN_CLIPS / row["train_clips_per_s"]
                      + benchmark.LA_DEV_CLIPS / row["dev_clips_per_s"])
        assert (benchmark.LA_TRAIN_CLIPS, benchmark.LA_DEV_CLIPS) == (25_380, 24_844)
        _same(row["la_epoch_min"], la_epoch_s / 60)
        _same(row["recipe_100_epochs_h"], 100 * row["la_epoch_min"] / 60)


def test_epoch_variants_parse_and_bad_ones_are_usage_errors(capsys):
    assert benchmark.parse_variant("robust=config=AASIST-L_robust;amp=true") == (
        "robust", "AASIST-L_robust", ["amp=true"])
    assert benchmark.parse_variant("plain=") == ("plain", None, [])
    for bad in ("no_equals", "=amp=true", "x=amp", "official=amp=true", "x=config=NoSuchConfig"):
        with pytest.raises(SystemExit):
            benchmark.parse_args(["--epoch-variant", bad])
        assert "--epoch-variant" in capsys.readouterr().err


def test_la_like_corpus_has_la_durations_and_layout(tmp_path):
    import numpy as np

    from aasist.data.protocols import la_paths, read_cm_protocol

    lengths = benchmark.la_like_durations(2000) / 16000
    assert 1.0 <= lengths.min() and lengths.max() <= 13.0 and 2.8 < np.median(lengths) < 3.6
    root = benchmark.write_la_like(tmp_path / "LA", 20, 10)
    train = read_cm_protocol(la_paths(root, "train").protocol)
    assert len(train) == 20 and sum(r.key == "bonafide" for r in train) == 2
    assert all((la_paths(root, "train").flac_dir / f"{r.utt_id}.flac").is_file() for r in train)


@pytest.mark.slow
def test_augment_section(tmp_path, capsys):
    from aasist.augment import TRANSFORMS, Augmenter, validate_augment
    from aasist.augment.codecs import LOSSY_CODECS

    rows = _smoke(tmp_path, capsys, "augment")
    names = [n for n in TRANSFORMS if n != "rawboost"] + [f"rawboost {a}" for a in (1, 2, 3, 5)]
    recipe = "recipe AASIST-L_robust"
    # one per-clip row for every transform (and the recipe's per-clip stage) ...
    assert [r["transform"] for r in rows if r["where"] == "cpu, per clip"] == [
        *names, f"{recipe}: per-clip stage"]
    # ... and a batch row per device for each transform that has a batch stage (not the
    # libsndfile ones, which run per clip in the data loader)
    batched = [n for n in names if not Augmenter(validate_augment(
        [{"name": n.split()[0], "p": 1.0, **({"algo": int(n.split()[1])} if " " in n else {})}])).clip_stage]
    assert batched and len(batched) < len(names)
    assert sorted((r["transform"], r["where"]) for r in rows if r["where"].endswith("batch of 24")) == sorted(
        (n, f"{d}, batch of 24") for n in [*batched, f"{recipe}: batch stage"] for d in _devices())
    bitrate = {r["transform"]: r["kbps"] for r in rows if r["where"] == "bitrate"}
    assert sorted(bitrate) == sorted(f"codec {c} @ {lvl}" for c in LOSSY_CODECS for lvl in (0.5, 0.95))
    for r in rows:
        if r["where"] == "bitrate":  # what each codec setting really spends on speech
            _positive(r, "kbps")
            assert "clips_per_s" not in r and "x_realtime" not in r
            assert r["kbps"] < 256  # lossy: below 16-bit PCM at 16 kHz
        else:
            _positive(r, "clips_per_s", "x_realtime")
            _same(r["x_realtime"], r["clips_per_s"] * CLIP_SECONDS)
    for codec in LOSSY_CODECS:  # a higher compression level spends fewer bits
        assert bitrate[f"codec {codec} @ 0.95"] < bitrate[f"codec {codec} @ 0.5"], codec


@pytest.mark.slow
def test_roofline_section(tmp_path, capsys):
    (row,) = _smoke(tmp_path, capsys, "roofline")
    assert row["model"] == "AASIST-L" and row["batch"] == 1 and row["threads"] >= 1
    # AASIST-L: about 13 GFLOP per 4.04 s window (counted, not timed)
    assert 10 < row["gflop_per_window"] < 16
    assert row["gflop_per_audio_s"] == pytest.approx(row["gflop_per_window"] * 16000 / 64600)
    for mode in ("eval", "train"):
        assert row[f"{mode}_fraction_of_gemm"] == pytest.approx(row[f"{mode}_gflops"] / row["gemm_gflops"])
    # the eval rate is the counted work of the batch over its timed seconds
    assert row["eval_gflops"] * row["eval_s"] == pytest.approx(row["gflop_per_window"] * row["batch"])
    # a training step counts the forward and about twice as much again for the backward
    train_flops = row["train_gflops"] * row["train_s"]
    assert 2.5 < train_flops / row["gflop_per_window"] < 3.5
