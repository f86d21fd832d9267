"""scripts/benchmark.py: every section runs end to end at a tiny scale (--smoke).

The numbers of a smoke run mean nothing; these tests check that each section still runs
against the current package and reports the rows and columns the README's tables use.
"""
from __future__ import annotations

import json
import math

import pytest

from scripts import benchmark


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


def test_stream_section(tmp_path, capsys):
    rows = _smoke(tmp_path, capsys, "stream")
    assert [r["hop_s"] for r in rows] == [0.25, 0.5, 1.0]
    for r in rows:
        assert r["audio_s"] == 1.5 and r["windows"] >= 1 and r["skipped"] >= 0
        _positive(r, "p50_latency_ms", "p95_latency_ms", "forward_ms", "real_time_factor")
        assert r["p95_latency_ms"] >= r["p50_latency_ms"]
        assert r["real_time_factor"] == pytest.approx(r["forward_ms"] / (1000 * r["hop_s"]))
