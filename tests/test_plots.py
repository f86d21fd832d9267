"""Tests for aasist.plots: each function writes a non-empty PNG and leaves no figure open."""
from __future__ import annotations

import numpy as np
import pytest

from aasist import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def scores():
    rng = np.random.default_rng(0)
    bona = rng.normal(2.0, 1.0, 300)
    by_attack = {f"A{i:02d}": rng.normal(-1.0 + 0.3 * i, 1.0, 120) for i in (7, 8, 10, 19, 9)}
    return bona, by_attack


def _assert_png(path, returned):
    assert returned == path
    data = path.read_bytes()
    assert len(data) > 1000 and data.startswith(PNG_MAGIC)


def _open_pyplot_figures():
    import matplotlib.pyplot as plt  # only to check that nothing was left registered
    return plt.get_fignums()


def test_plot_det_writes_png(tmp_path, scores):
    bona, by_attack = scores
    spoof = np.concatenate(list(by_attack.values()))
    path = tmp_path / "figs" / "det.png"  # parent folder is created
    _assert_png(path, plots.plot_det(bona, spoof, path, label="AASIST"))
    assert _open_pyplot_figures() == []


def test_plot_det_handles_perfect_separation(tmp_path):
    path = tmp_path / "det_perfect.png"
    _assert_png(path, plots.plot_det([5.0, 6.0, 7.0], [0.0, 1.0], path))


def test_plot_det_rejects_bad_scores(tmp_path):
    with pytest.raises(ValueError, match="NaN"):
        plots.plot_det([1.0, np.nan], [0.0, 0.5], tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_plot_score_histograms_writes_png(tmp_path, scores):
    bona, by_attack = scores
    path = tmp_path / "hist.png"
    _assert_png(path, plots.plot_score_histograms(bona, by_attack, path))
    # a plain array is one attack called "spoof"
    path2 = tmp_path / "hist_pooled.png"
    _assert_png(path2, plots.plot_score_histograms(bona, by_attack["A07"], path2))


def test_plot_score_histograms_rejects_empty(tmp_path):
    with pytest.raises(ValueError, match="non-empty"):
        plots.plot_score_histograms([1.0, 2.0], {}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="non-empty"):
        plots.plot_score_histograms([1.0, 2.0], {"A07": []}, tmp_path / "x.png")


def test_plot_per_attack_eer_writes_png(tmp_path):
    path = tmp_path / "per_attack.png"
    per_attack = {"A10": 5.6, "A07": 19.4, "A19": 0.0, "A08": 17.2}
    _assert_png(path, plots.plot_per_attack_eer(per_attack, path, pooled_eer_percent=14.3))
    with pytest.raises(ValueError, match="at least one"):
        plots.plot_per_attack_eer({}, tmp_path / "x.png")


def test_plot_training_curves_writes_png(tmp_path):
    path = tmp_path / "training.png"
    rows = [{"epoch": e, "train_loss": 1.0 / (e + 1), "dev_eer_percent": 20.0 / (e + 1)}
            for e in range(8)]
    _assert_png(path, plots.plot_training_curves(rows, path))


def test_plot_training_curves_reads_csv_style_rows(tmp_path):
    # csv.DictReader gives strings; an epoch without a dev evaluation has an empty cell
    rows = [{"epoch": "0", "train_loss": "0.9", "dev_eer_percent": "12.5"},
            {"epoch": "1", "train_loss": "0.5", "dev_eer_percent": ""},
            {"epoch": "2", "train_loss": "0.3", "dev_eer_percent": "4.0", "lr": "1e-4"}]
    path = tmp_path / "training_csv.png"
    _assert_png(path, plots.plot_training_curves(rows, path))


def test_plot_training_curves_errors(tmp_path):
    with pytest.raises(ValueError, match="at least one row"):
        plots.plot_training_curves([], tmp_path / "x.png")
    with pytest.raises(ValueError, match="dev_eer_percent"):
        plots.plot_training_curves([{"epoch": 0, "train_loss": 1.0}], tmp_path / "x.png")
    with pytest.raises(ValueError, match="not a number"):
        plots.plot_training_curves([{"epoch": 0, "train_loss": "oops", "dev_eer_percent": 1}],
                                   tmp_path / "x.png")
