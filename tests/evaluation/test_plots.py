"""The report figures: what each draws, read back from its matplotlib artists, and that each writes a PNG."""

from __future__ import annotations

import itertools
import sys
import types

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import LineCollection

from oncofusion.evaluation import plots
from oncofusion.models.calibration import reliability_bins

PNG = b"\x89PNG\r\n\x1a\n"


def _bins(rows: list[tuple[int, float | None, float | None]]) -> list[dict]:
    """reliability_bins-shaped rows over equal-width bins from (count, mean_confidence, accuracy)."""
    n = len(rows)
    return [
        {"lower": i / n, "upper": (i + 1) / n, "count": c, "mean_confidence": m, "accuracy": a}
        for i, (c, m, a) in enumerate(rows)
    ]


# Mean confidences away from the bin centres and accuracies away from the confidences, so a point drawn at
# the wrong coordinate cannot pass by coincidence; the second bin is empty.
BEFORE = _bins([(3, 0.31, 1.0), (0, None, None), (12, 0.62, 0.25), (40, 0.73, 0.5), (7, 0.97, 0.857)])
AFTER = _bins([(0, None, None), (5, 0.52, 0.4), (20, 0.55, 0.6), (30, 0.79, 0.8), (9, 0.83, 1.0)])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _axes(fig: plt.Figure, label: str) -> plt.Axes:
    (ax,) = [ax for ax in fig.axes if ax.get_label() == label]
    return ax


@pytest.mark.parametrize(("name", "rows"), [("before", BEFORE), ("after", AFTER)])
def test_reliability_draws_accuracy_at_each_bins_mean_confidence(name, rows):
    fig = plots.reliability_figure(BEFORE, AFTER)
    filled = [row for row in rows if row["count"]]
    confidence = [row["mean_confidence"] for row in filled]
    accuracy = [row["accuracy"] for row in filled]
    top = _axes(fig, f"reliability {name}")

    (curve,) = [line for line in top.get_lines() if line.get_gid() == "accuracy"]
    np.testing.assert_allclose(curve.get_xdata(), confidence)
    np.testing.assert_allclose(curve.get_ydata(), accuracy)
    # The gap runs, at the bin's mean confidence, from its accuracy up or down to the diagonal: the
    # confidence is drawn at the confidence's height, not at the accuracy's.
    (gaps,) = [c for c in top.collections if isinstance(c, LineCollection) and c.get_gid() == "gap"]
    segments = gaps.get_segments()
    assert len(segments) == len(filled)
    for segment, c, a in zip(segments, confidence, accuracy, strict=True):
        np.testing.assert_allclose(segment[:, 0], [c, c])
        np.testing.assert_allclose(sorted(segment[:, 1]), sorted([a, c]))
    (diagonal,) = [line for line in top.get_lines() if line.get_gid() == "diagonal"]
    assert list(diagonal.get_xdata()) == list(diagonal.get_ydata()) == [0, 1]
    ece = sum(r["count"] * abs(r["accuracy"] - r["mean_confidence"]) for r in filled) / sum(
        r["count"] for r in filled
    )
    assert f"ECE {ece:.3f}" in top.get_title()


@pytest.mark.parametrize(("name", "rows"), [("before", BEFORE), ("after", AFTER)])
def test_reliability_shows_each_bins_sample_count(name, rows):
    fig = plots.reliability_figure(BEFORE, AFTER)
    bottom = _axes(fig, f"counts {name}")
    assert [bar.get_height() for bar in bottom.patches] == [row["count"] for row in rows]
    assert [bar.get_x() for bar in bottom.patches] == pytest.approx([row["lower"] for row in rows])
    labels = [text for text in bottom.texts if text.get_gid() == "bin count"]
    filled = [row for row in rows if row["count"]]
    assert [text.get_text() for text in labels] == [str(row["count"]) for row in filled]
    np.testing.assert_allclose(
        [text.xy for text in labels], [((row["lower"] + row["upper"]) / 2, row["count"]) for row in filled]
    )


def test_reliability_plot_of_real_bins_writes_a_png(tmp_path):
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(4) * 0.5, size=300)
    y = rng.integers(0, 4, size=300)
    before, after = reliability_bins(probabilities, y), reliability_bins(probabilities**0.5, y)
    path = plots.reliability_plot(before, after, tmp_path / "figures" / "reliability.png")
    assert path.read_bytes()[:8] == PNG


LONG_MODALITIES = ["methylation", "fragmentomics", "copy_number_alterations", "DNA embedding (attention-MIL)"]
CLASSES = ["BRCA", "LUAD", "Stomach-AdenoCA", "PRAD"]


def _attention(n: int = 80) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return rng.dirichlet(np.ones(len(LONG_MODALITIES)), size=n), rng.integers(0, len(CLASSES), size=n)


def _assert_labels_clear(fig: plt.Figure, ax: plt.Axes) -> None:
    """The axes' tick labels do not overlap each other nor the x-axis title, and none is cut off."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ticks = ax.get_xticklabels()
    # Slanted labels are parallel strips, one text line thick, shifted by the tick spacing: they cannot
    # touch when the spacing times the sine of the slant exceeds the line's height (horizontal ones overlap).
    spacing = ax.transData.transform((1, 0))[0] - ax.transData.transform((0, 0))[0]
    for tick in ticks:
        line = fig.text(0, 0, tick.get_text(), fontproperties=tick.get_fontproperties())
        height = line.get_window_extent(renderer).height
        line.remove()
        assert spacing * abs(np.sin(np.radians(tick.get_rotation()))) > height, tick.get_text()
    # Horizontal labels (the classes) must not overlap as boxes; none is cut off at the figure's edge,
    # and the axis title sits clear of the slanted labels.
    boxes = [t.get_window_extent(renderer) for t in ax.get_yticklabels()]
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b)
    for box in [*boxes, *(t.get_window_extent(renderer) for t in ticks)]:
        assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= fig.bbox.width and box.y1 <= fig.bbox.height
    xlabel = ax.xaxis.label.get_window_extent(renderer)
    assert all(xlabel.y1 <= t.get_window_extent(renderer).y0 + 1 for t in ticks)


def test_attention_heatmap_labels_do_not_overlap_and_stay_in_the_figure():
    attention, y = _attention()
    fig = plots.attention_figure(attention, y, CLASSES, LONG_MODALITIES)
    (ax, _colorbar) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == LONG_MODALITIES
    _assert_labels_clear(fig, ax)
    cells = [t.get_text() for t in ax.texts]
    assert len(cells) == len(CLASSES) * len(LONG_MODALITIES)
    assert cells[0] == f"{attention[y == 0, 0].mean():.2f}"


# The somatic-variant branch's eleven PCAWG tumour types.
MANY_CLASSES = [
    "Bladder-TCC", "Breast-AdenoCa", "ColoRect-AdenoCA-MSI", "Eso-AdenoCa", "Kidney-RCC", "Liver-HCC",
    "Lung-SCC", "Ovary-AdenoCA", "Prost-AdenoCA", "Skin-Melanoma", "Stomach-AdenoCA",
]  # fmt: skip


@pytest.mark.parametrize("classes", [CLASSES, MANY_CLASSES])
def test_confusion_matrix_labels_do_not_overlap(classes):
    rng = np.random.default_rng(4)
    y = rng.integers(0, len(classes), size=200)
    fig = plots.confusion_figure(y, rng.integers(0, len(classes), size=200), classes)
    (ax,) = fig.axes
    _assert_labels_clear(fig, ax)
    assert sum(int(t.get_text()) for t in ax.texts) == 200


def test_embedding_plot_gives_each_of_many_classes_its_own_colour():
    rng = np.random.default_rng(5)
    y = np.repeat(np.arange(len(MANY_CLASSES)), 3)
    fig = plots.embedding_figure(rng.normal(size=(len(y), 6)), y, MANY_CLASSES)
    (ax,) = fig.axes
    colours = {tuple(c.get_facecolor()[0]) for c in ax.collections}
    assert len(colours) == len(MANY_CLASSES)


def test_embedding_plot_has_labelled_axes_and_a_title():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, size=60)
    embedding = rng.normal(size=(60, 8)) + y[:, None]
    fig = plots.embedding_figure(embedding, y, ["A", "B", "C"])
    (ax,) = fig.axes
    assert ax.get_xlabel().startswith("PCA component 1") and "variance" in ax.get_xlabel()
    assert ax.get_ylabel().startswith("PCA component 2")
    assert "PCA" in ax.get_title() and "embeddings" in ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["A", "B", "C"]


def test_embedding_plot_names_umap_axes_when_umap_is_installed(monkeypatch):
    class FakeUMAP:
        def __init__(self, random_state: int) -> None:
            pass

        def fit_transform(self, x: np.ndarray) -> np.ndarray:
            return x[:, :2]

    monkeypatch.setitem(sys.modules, "umap", types.SimpleNamespace(UMAP=FakeUMAP))
    y = np.array([0, 1, 0, 1])
    fig = plots.embedding_figure(np.arange(16.0).reshape(4, 4), y, ["A", "B"])
    (ax,) = fig.axes
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("UMAP component 1", "UMAP component 2")
    assert "UMAP" in ax.get_title()


def test_every_figure_writes_a_png(tmp_path):
    open_before = plt.get_fignums()
    rng = np.random.default_rng(3)
    attention, y = _attention()
    probabilities = rng.dirichlet(np.ones(len(CLASSES)), size=len(y))
    written = [
        plots.confusion_plot(y, probabilities.argmax(axis=1), CLASSES, tmp_path / "confusion.png"),
        plots.roc_plot(y, probabilities, CLASSES, tmp_path / "roc.png"),
        plots.attention_heatmap(attention, y, CLASSES, LONG_MODALITIES, tmp_path / "attention.png"),
        plots.embedding_plot(rng.normal(size=(len(y), 6)), y, CLASSES, tmp_path / "embeddings.png"),
        plots.reliability_plot(BEFORE, AFTER, tmp_path / "reliability.png"),
        plots.training_curves(
            [{"epoch": 0, "train/loss": 1.0, "val/f1_macro": 0.5}, {"epoch": 1, "train/loss": 0.5}],
            tmp_path / "curves.png",
        ),
    ]
    assert all(path.read_bytes()[:8] == PNG for path in written)
    assert plt.get_fignums() == open_before  # each figure is closed once written
