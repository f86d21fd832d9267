"""Tests for aasist.plots: each function writes a PNG of the figure size it documents, that
draws the data it was given (the image and the figure's artists follow the input) with its
labels and titles, and leaves no figure open."""
from __future__ import annotations

from statistics import NormalDist

import matplotlib.figure
import matplotlib.image
import numpy as np
import pytest

from aasist import plots
from aasist.metrics import compute_det_curve, compute_eer

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DPI = 120  # aasist.plots._DPI: every figure is drawn at this resolution
TAB_BLUE = (0x1F / 255, 0x77 / 255, 0xB4 / 255)
TAB_RED = (0xD6 / 255, 0x27 / 255, 0x28 / 255)


@pytest.fixture
def scores():
    rng = np.random.default_rng(0)
    bona = rng.normal(2.0, 1.0, 300)
    by_attack = {f"A{i:02d}": rng.normal(-1.0 + 0.3 * i, 1.0, 120) for i in (7, 8, 10, 19, 9)}
    return bona, by_attack


@pytest.fixture
def drawn(monkeypatch):
    """What each saved figure held when it was written (the functions clear their figures
    right after ``savefig``): a list of snapshots, one per image written."""
    snapshots = []
    original = matplotlib.figure.Figure.savefig

    def savefig(fig, *args, **kwargs):
        result = original(fig, *args, **kwargs)  # draws first, so tick labels are set
        snapshots.append(_snapshot(fig))
        return result

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)
    return snapshots


def _snapshot(fig) -> dict:
    axes = []
    for ax in fig.axes:
        legend = ax.get_legend()
        axes.append(dict(
            visible=ax.get_visible(), title=ax.get_title(), xlabel=ax.get_xlabel(),
            ylabel=ax.get_ylabel(),
            lines=[dict(label=ln.get_label(), x=np.asarray(ln.get_xdata(), dtype=float).copy(),
                        y=np.asarray(ln.get_ydata(), dtype=float).copy()) for ln in ax.get_lines()],
            rect_heights=[p.get_height() for p in ax.patches if hasattr(p, "get_height")],
            n_patches=len(ax.patches),
            xticklabels=[t.get_text() for t in ax.get_xticklabels()],
            xlim=ax.get_xlim(), ylim=ax.get_ylim(),
            legend=[t.get_text() for t in legend.get_texts()] if legend else [],
        ))
    return dict(size_px=tuple(np.round(fig.get_size_inches() * fig.dpi).astype(int)),
                suptitle=fig.get_suptitle(), axes=axes)


def _expected_shape(width_in: float, height_in: float) -> tuple[int, int]:
    """(rows, columns) of a figure of that size in inches, at plots' resolution."""
    return round(height_in * DPI), round(width_in * DPI)


def _assert_png(path, returned, width_in: float, height_in: float) -> np.ndarray:
    """The file is a PNG of the figure's size in pixels that is not blank; returns its RGB."""
    assert returned == path
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    image = matplotlib.image.imread(path)
    assert image.shape[:2] == _expected_shape(width_in, height_in)
    rgb = image[..., :3].astype(np.float64)
    inked = np.mean(rgb.min(axis=-1) < 0.9)  # share of pixels that are not (near) white
    assert rgb.var() > 1e-3 and inked > 0.01, (rgb.var(), inked)
    return rgb


def _pixels_near(rgb: np.ndarray, color, alpha: float = 1.0, tol: float = 0.06) -> int:
    """How many pixels show ``color`` drawn at ``alpha`` over white."""
    target = alpha * np.asarray(color) + (1 - alpha)
    return int(np.sum(np.abs(rgb - target).max(axis=-1) < tol))


def _differ(a: np.ndarray, b: np.ndarray) -> float:
    """Share of pixels that differ between two images of the same size."""
    assert a.shape == b.shape
    return float(np.mean(np.abs(a - b).max(axis=-1) > 0.1))


def _open_pyplot_figures():
    import matplotlib.pyplot as plt  # only to check that nothing was left registered
    return plt.get_fignums()


def _probit(p) -> np.ndarray:
    return np.array([NormalDist().inv_cdf(float(v)) for v in np.ravel(p)])


def test_plot_det_writes_png(tmp_path, scores, drawn):
    bona, by_attack = scores
    spoof = np.concatenate(list(by_attack.values()))
    path = tmp_path / "figs" / "det.png"  # parent folder is created
    rgb = _assert_png(path, plots.plot_det(bona, spoof, path, label="AASIST"), 5.5, 5.5)
    assert _open_pyplot_figures() == []
    assert _pixels_near(rgb, TAB_BLUE) > 50  # the DET line is drawn (a blank plot has none)

    (fig,) = drawn
    assert fig["size_px"] == (660, 660)
    (ax,) = fig["axes"]
    assert ax["title"] == "DET curve"
    assert ax["xlabel"] == "False acceptance rate of spoofs (%)"
    assert ax["ylabel"] == "False rejection rate of bona fide (%)"
    det, eer_point, diagonal = ax["lines"]
    # The curve is compute_det_curve's (FAR, FRR) on normal-deviate axes; rates below the
    # measurable floor (0.5 / smaller class, at least 0.01 %, at most 1 %) sit at the edge.
    frr, far, _ = compute_det_curve(bona, spoof)
    lo = min(0.01, max(1e-4, 0.5 / min(bona.size, spoof.size)))
    eps = lo / 2
    assert det["label"] == "AASIST" and det["x"].size == far.size
    np.testing.assert_allclose(det["x"], _probit(np.clip(far, eps, 1 - eps)), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(det["y"], _probit(np.clip(frr, eps, 1 - eps)), rtol=1e-9, atol=1e-9)
    eer, _ = compute_eer(bona, spoof)
    assert eer_point["label"] == f"EER {100 * eer:.2f} %" and 0 < eer < 0.5
    np.testing.assert_allclose([eer_point["x"][0], eer_point["y"][0]], _probit([eer, eer]), atol=1e-9)
    np.testing.assert_allclose(diagonal["x"], diagonal["y"])
    np.testing.assert_allclose(ax["xlim"], _probit([lo, 0.6]), atol=1e-9)
    assert ax["legend"] == ["AASIST", f"EER {100 * eer:.2f} %"]


def test_plot_det_follows_the_scores(tmp_path, drawn):
    rng = np.random.default_rng(1)
    bona = rng.normal(0.0, 1.0, 400)
    separated = _assert_png(tmp_path / "sep.png",
                            plots.plot_det(bona + 4.0, rng.normal(0.0, 1.0, 400), tmp_path / "sep.png"),
                            5.5, 5.5)
    overlapping = _assert_png(tmp_path / "ovl.png",
                              plots.plot_det(bona, rng.normal(0.0, 1.0, 400), tmp_path / "ovl.png",
                                             title="overlap"), 5.5, 5.5)
    assert _differ(separated, overlapping) > 0.005
    eer_labels = [fig["axes"][0]["legend"][1] for fig in drawn]
    assert float(eer_labels[0].split()[1]) < 5.0 < 35.0 < float(eer_labels[1].split()[1]) < 65.0
    assert [fig["axes"][0]["title"] for fig in drawn] == ["DET curve", "overlap"]


def test_plot_det_handles_perfect_separation(tmp_path, drawn):
    path = tmp_path / "det_perfect.png"
    _assert_png(path, plots.plot_det([5.0, 6.0, 7.0], [0.0, 1.0], path), 5.5, 5.5)
    (fig,) = drawn
    det, eer_point, _ = fig["axes"][0]["lines"]
    assert fig["axes"][0]["legend"] == ["CM", "EER 0.00 %"]
    assert np.all(np.isfinite(det["x"])) and np.all(np.isfinite(det["y"]))
    # rates of 0 and 1 are clipped to eps = lo / 2 (lo = 1 % here: 0.5 / 2 is above the cap)
    edge = _probit([0.005])[0]
    np.testing.assert_allclose(np.abs(det["x"][det["x"] != 0]), -edge)
    assert eer_point["x"][0] == pytest.approx(edge) and eer_point["y"][0] == pytest.approx(edge)
    np.testing.assert_allclose(fig["axes"][0]["xlim"], _probit([0.01, 0.6]))


def test_plot_det_rejects_bad_scores(tmp_path):
    with pytest.raises(ValueError, match="NaN"):
        plots.plot_det([1.0, np.nan], [0.0, 0.5], tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_plot_score_histograms_writes_png(tmp_path, scores, drawn):
    bona, by_attack = scores
    path = tmp_path / "hist.png"
    # five attacks: four columns, two rows, three hidden panels
    rgb = _assert_png(path, plots.plot_score_histograms(bona, by_attack, path), 3.2 * 4, 2.4 * 2 + 0.4)
    assert _pixels_near(rgb, TAB_BLUE, alpha=0.45) > 1000  # the bona fide histograms
    assert _open_pyplot_figures() == []
    fig = drawn[0]
    assert fig["suptitle"] == "CM score distributions"
    visible = [ax for ax in fig["axes"] if ax["visible"]]
    assert [ax for ax in fig["axes"] if not ax["visible"]] and len(fig["axes"]) == 8
    assert [ax["title"] for ax in visible] == [f"{a} (n=120)" for a in ("A07", "A08", "A09", "A10", "A19")]
    assert [ax["legend"] for ax in visible] == [["bona fide", a] for a in ("A07", "A08", "A09", "A10", "A19")]
    assert [ax["xlabel"] for ax in fig["axes"][4:]] == ["CM score (higher = bona fide)"] * 4
    # each panel's filled bars are the bona fide density on bins shared by all panels
    edges = np.histogram_bin_edges(np.concatenate([bona, *by_attack.values()]), bins=60)
    density, _ = np.histogram(bona, bins=edges, density=True)
    for ax in visible:
        np.testing.assert_allclose(ax["rect_heights"][:60], density, rtol=1e-12)

    # a plain array is one attack called "spoof"
    path2 = tmp_path / "hist_pooled.png"
    _assert_png(path2, plots.plot_score_histograms(bona, by_attack["A07"], path2, title="pooled"),
                3.2, 2.4 + 0.4)
    assert drawn[1]["suptitle"] == "pooled"
    assert [ax["title"] for ax in drawn[1]["axes"]] == ["spoof (n=120)"]


def test_plot_score_histograms_follows_the_scores(tmp_path, scores):
    bona, by_attack = scores
    a = _assert_png(tmp_path / "a.png", plots.plot_score_histograms(bona, by_attack["A07"], tmp_path / "a.png"),
                    3.2, 2.8)
    b = _assert_png(tmp_path / "b.png", plots.plot_score_histograms(bona, by_attack["A19"], tmp_path / "b.png"),
                    3.2, 2.8)
    assert _differ(a, b) > 0.005


def test_plot_score_histograms_rejects_empty(tmp_path):
    with pytest.raises(ValueError, match="non-empty"):
        plots.plot_score_histograms([1.0, 2.0], {}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="non-empty"):
        plots.plot_score_histograms([1.0, 2.0], {"A07": []}, tmp_path / "x.png")


def test_plot_per_attack_eer_writes_png(tmp_path, drawn):
    path = tmp_path / "per_attack.png"
    per_attack = {"A10": 5.6, "A07": 19.4, "A19": 0.0, "A08": 17.2}
    rgb = _assert_png(path, plots.plot_per_attack_eer(per_attack, path, pooled_eer_percent=14.3),
                      max(4.0, 0.55 * 4 + 1.5), 3.6)
    assert _pixels_near(rgb, TAB_RED, alpha=0.8) > 1000  # the bars
    assert _open_pyplot_figures() == []
    (fig,) = drawn
    (ax,) = fig["axes"]
    assert ax["title"] == "EER per attack" and ax["xlabel"] == "attack" and ax["ylabel"] == "EER (%)"
    assert ax["xticklabels"] == ["A07", "A08", "A10", "A19"]  # natural order
    assert ax["rect_heights"] == [19.4, 17.2, 5.6, 0.0]
    (pooled,) = ax["lines"]
    assert list(pooled["y"]) == [14.3, 14.3] and ax["legend"] == ["pooled 14.30 %"]
    assert ax["ylim"][0] == 0 and ax["ylim"][1] >= 19.4
    with pytest.raises(ValueError, match="at least one"):
        plots.plot_per_attack_eer({}, tmp_path / "x.png")


def test_plot_per_attack_eer_follows_the_values(tmp_path, drawn):
    a = _assert_png(tmp_path / "a.png", plots.plot_per_attack_eer({"A07": 2.0, "A08": 30.0}, tmp_path / "a.png"),
                    4.0, 3.6)
    b = _assert_png(tmp_path / "b.png", plots.plot_per_attack_eer({"A07": 30.0, "A08": 2.0}, tmp_path / "b.png"),
                    4.0, 3.6)
    assert _differ(a, b) > 0.01
    assert [fig["axes"][0]["rect_heights"] for fig in drawn] == [[2.0, 30.0], [30.0, 2.0]]
    assert all(not fig["axes"][0]["lines"] and not fig["axes"][0]["legend"] for fig in drawn)  # no pooled line
    # more attacks, a wider figure
    many = {f"A{i:02d}": float(i) for i in range(7, 20)}
    _assert_png(tmp_path / "many.png", plots.plot_per_attack_eer(many, tmp_path / "many.png"),
                0.55 * 13 + 1.5, 3.6)


def test_plot_training_curves_writes_png(tmp_path, drawn):
    path = tmp_path / "training.png"
    rows = [{"epoch": e, "train_loss": 1.0 / (e + 1), "dev_eer_percent": 20.0 / (e + 1) + (e == 5) * 30}
            for e in range(8)]
    rgb = _assert_png(path, plots.plot_training_curves(rows, path, title="run 1"), 9.0, 3.4)
    assert _pixels_near(rgb, TAB_BLUE) > 100 and _pixels_near(rgb, TAB_RED) > 100
    assert _open_pyplot_figures() == []
    (fig,) = drawn
    assert fig["suptitle"] == "run 1"
    loss_ax, eer_ax = fig["axes"]
    assert (loss_ax["title"], loss_ax["xlabel"], loss_ax["ylabel"]) == ("training loss", "epoch", "training loss")
    assert (eer_ax["title"], eer_ax["xlabel"], eer_ax["ylabel"]) == ("dev EER", "epoch", "dev EER (%)")
    (loss_line,) = loss_ax["lines"]
    np.testing.assert_array_equal(loss_line["x"], np.arange(8))
    np.testing.assert_allclose(loss_line["y"], [r["train_loss"] for r in rows])
    eer_line, best = eer_ax["lines"]
    np.testing.assert_allclose(eer_line["y"], [r["dev_eer_percent"] for r in rows])
    assert (best["x"][0], best["y"][0]) == (7, 2.5)  # the lowest dev EER, not the last epoch's
    assert eer_ax["legend"] == ["best 2.500 % (epoch 7)"]


def test_plot_training_curves_reads_csv_style_rows(tmp_path, drawn):
    # csv.DictReader gives strings; an epoch without a dev evaluation has an empty cell
    rows = [{"epoch": "0", "train_loss": "0.9", "dev_eer_percent": "12.5"},
            {"epoch": "1", "train_loss": "0.5", "dev_eer_percent": ""},
            {"epoch": "2", "train_loss": "0.3", "dev_eer_percent": "4.0", "lr": "1e-4"}]
    path = tmp_path / "training_csv.png"
    _assert_png(path, plots.plot_training_curves(rows, path), 9.0, 3.4)
    loss_ax, eer_ax = drawn[0]["axes"]
    np.testing.assert_allclose(loss_ax["lines"][0]["x"], [0, 1, 2])
    np.testing.assert_allclose(loss_ax["lines"][0]["y"], [0.9, 0.5, 0.3])
    np.testing.assert_allclose(eer_ax["lines"][0]["x"], [0, 2])  # the empty cell is skipped
    np.testing.assert_allclose(eer_ax["lines"][0]["y"], [12.5, 4.0])
    assert eer_ax["legend"] == ["best 4.000 % (epoch 2)"]


def test_plot_training_curves_follows_the_rows(tmp_path):
    falling = [{"epoch": e, "train_loss": 1.0 / (e + 1), "dev_eer_percent": 20.0 / (e + 1)} for e in range(8)]
    rising = [{"epoch": e, "train_loss": 0.1 * (e + 1), "dev_eer_percent": 2.0 * (e + 1)} for e in range(8)]
    a = _assert_png(tmp_path / "a.png", plots.plot_training_curves(falling, tmp_path / "a.png"), 9.0, 3.4)
    b = _assert_png(tmp_path / "b.png", plots.plot_training_curves(rising, tmp_path / "b.png"), 9.0, 3.4)
    assert _differ(a, b) > 0.005


def test_plot_training_curves_errors(tmp_path):
    with pytest.raises(ValueError, match="at least one row"):
        plots.plot_training_curves([], tmp_path / "x.png")
    with pytest.raises(ValueError, match="dev_eer_percent"):
        plots.plot_training_curves([{"epoch": 0, "train_loss": 1.0}], tmp_path / "x.png")
    with pytest.raises(ValueError, match="not a number"):
        plots.plot_training_curves([{"epoch": 0, "train_loss": "oops", "dev_eer_percent": 1}],
                                   tmp_path / "x.png")


@pytest.mark.slow
def test_plot_examples_draws_each_clip(tmp_path, drawn):
    rng = np.random.default_rng(2)
    t = np.arange(16000) / 16000
    examples = {"bona fide X": 0.3 * np.sin(2 * np.pi * 220 * t), "spoof Y": 0.1 * rng.standard_normal(8000)}
    path = tmp_path / "examples.png"
    rgb = _assert_png(path, plots.plot_examples(examples, path), 4.2 * 2, 5.0)
    assert _open_pyplot_figures() == []
    (fig,) = drawn
    waves, spectrograms = fig["axes"][:2], fig["axes"][2:]
    assert [ax["title"] for ax in waves] == ["bona fide X", "spoof Y"]
    assert [ax["xlabel"] for ax in fig["axes"]] == ["time (s)"] * 4
    assert [ax["ylabel"] for ax in spectrograms] == ["kHz", "kHz"]
    for ax, wave in zip(waves, examples.values()):
        np.testing.assert_allclose(ax["lines"][0]["y"], wave)
        np.testing.assert_allclose(ax["lines"][0]["x"], np.arange(wave.size) / 16000)
    # other audio, other picture
    other = {"bona fide X": 0.3 * np.sin(2 * np.pi * 3000 * t), "spoof Y": examples["spoof Y"]}
    rgb2 = _assert_png(tmp_path / "other.png", plots.plot_examples(other, tmp_path / "other.png"), 8.4, 5.0)
    assert _differ(rgb, rgb2) > 0.005
