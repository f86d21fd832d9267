"""experiments/benchmark.py: every section runs end to end at a tiny scale (--smoke).

The numbers of a smoke run mean nothing; these tests check that each section still runs
against the current package and reports the rows and columns the README's tables use.
"""
from __future__ import annotations

import json
import math

import pytest

from experiments import benchmark


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


@pytest.mark.slow
def test_model_section(tmp_path, capsys):
    rows = _smoke(tmp_path, capsys, "model")
    assert [(r["model"], r["mode"], r["impl"], r["device"]) for r in rows] == [
        ("AASIST-L", "eval", "ours", "cpu"), ("AASIST-L", "train", "ours", "cpu")]
    for r in rows:
        assert r["batch"] == 1 and r["n"] == 1 and r["speedup_vs_official"] is None
        _positive(r, "median_s", "clips_per_s", "x_realtime")


def test_data_section(tmp_path, capsys):
    rows = _smoke(tmp_path, capsys, "data")
    assert sorted((r["impl"], r["num_workers"]) for r in rows) == [
        ("cache", 0), ("cache", 2), ("flac", 0), ("flac", 2)]
    for r in rows:
        _positive(r, "items_per_s", "speedup_vs_flac")
        if r["impl"] == "flac":
            assert r["speedup_vs_flac"] == 1.0


def test_eval_section(tmp_path, capsys):
    (row,) = _smoke(tmp_path, capsys, "eval")
    assert row["model"] == "AASIST-L" and row["clips"] == 2
    _positive(row, "clips_per_s", "x_realtime")


def test_predict_section(tmp_path, capsys):
    (row,) = _smoke(tmp_path, capsys, "predict")
    assert row["files"] == 3 and row["windows"] == 3 and row["seconds_per_file"] == 1.0
    _positive(row, "files_per_s", "x_real_time", "wall_s")
    assert row["x_real_time"] == pytest.approx(row["files_per_s"] * 1.0)


@pytest.mark.slow
def test_stream_section(tmp_path, capsys):
    rows = _smoke(tmp_path, capsys, "stream")
    assert [r["hop_s"] for r in rows] == [0.25, 0.5, 1.0]
    for r in rows:
        assert r["audio_s"] == 1.5 and r["windows"] >= 1 and r["skipped"] >= 0
        _positive(r, "p50_latency_ms", "p95_latency_ms", "forward_ms", "real_time_factor")
        assert r["p95_latency_ms"] >= r["p50_latency_ms"]
        assert r["real_time_factor"] == pytest.approx(r["forward_ms"] / (1000 * r["hop_s"]))


@pytest.mark.slow
def test_model_section_held_to_avx2_names_its_kernels(tmp_path, capsys):
    out = tmp_path / "rows.json"
    benchmark.main(["--sections", "model", "--smoke", "--cpu-isa", "default,avx2", "--json", str(out)])
    report = json.loads(out.read_text())
    assert {"cpu", "cpu_flags", "aten_capability", "selu_kernel"} <= set(report["machine"])
    rows = report["rows"]
    assert sorted({r["cpu_isa"] for r in rows}) == ["avx2", "default"]
    for r in rows:
        _positive(r, "peak_rss_mb")
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
        _positive(row, "train_s", "score_s", "train_clips_per_s", "la_epoch_min", "peak_rss_mb")
        assert row["recipe_100_epochs_h"] == pytest.approx(100 * row["la_epoch_min"] / 60)


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
    rows = _smoke(tmp_path, capsys, "augment")
    assert "cpu, per clip" in {r["where"] for r in rows}
    for r in rows:
        if r["where"] == "bitrate":  # what each codec setting really spends on speech
            _positive(r, "kbps")
        else:
            _positive(r, "clips_per_s")
