"""Figures for MLflow and reports/: confusion matrix, ROC, attention per class, curves, embeddings.

Each figure has a ``*_figure`` builder that returns the matplotlib Figure (tests inspect its artists) and a
``*_plot`` function that builds it and writes a PNG.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: stages run in CI and on servers

import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.metrics import confusion_matrix, roc_curve


def _save(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if fig.get_layout_engine() is None:  # figures built with layout="constrained" lay themselves out
        fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _slanted_xticklabels(ax: plt.Axes, labels: list[str]) -> None:
    """Category labels under a matrix, slanted and right-aligned to their tick so long names never overlap."""
    ax.set_xticks(range(len(labels)), labels, rotation=35, ha="right", rotation_mode="anchor")


def confusion_figure(y: np.ndarray, predicted: np.ndarray, classes: list[str]) -> plt.Figure:
    """Counts of (actual, predicted) class pairs, each cell labelled; the figure grows with the classes."""
    matrix = confusion_matrix(y, predicted, labels=range(len(classes)))
    side = max(5.0, 0.45 * len(classes) + 3)
    fig, ax = plt.subplots(figsize=(side, side * 0.9), layout="constrained")
    ax.imshow(matrix, cmap="Blues")
    for (i, j), n in np.ndenumerate(matrix):
        ax.text(j, i, str(n), ha="center", va="center", color="white" if n > matrix.max() / 2 else "black")
    _slanted_xticklabels(ax, classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set(xlabel="predicted", ylabel="actual", title="Confusion matrix (test)")
    return fig


def confusion_plot(y: np.ndarray, predicted: np.ndarray, classes: list[str], path: Path) -> Path:
    return _save(confusion_figure(y, predicted, classes), path)


def roc_plot(y: np.ndarray, probabilities: np.ndarray, classes: list[str], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5, 4.5))
    for k, name in enumerate(classes):
        if 0 < (y == k).sum() < len(y):
            fpr, tpr, _ = roc_curve(y == k, probabilities[:, k])
            ax.plot(fpr, tpr, label=name)
    ax.plot([0, 1], [0, 1], "k--", linewidth=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, one vs rest (test)")
    ax.legend(loc="lower right")
    return _save(fig, path)


def attention_figure(
    attention: np.ndarray, y: np.ndarray, classes: list[str], modalities: list[str]
) -> plt.Figure:
    """Mean [CLS]→modality attention per true class (rows) and modality (columns), each cell labelled."""
    means = np.stack(
        [
            attention[y == k].mean(axis=0) if (y == k).any() else np.zeros(len(modalities))
            for k in range(len(classes))
        ]
    )
    fig, ax = plt.subplots(
        figsize=(1.3 * len(modalities) + 3.5, 0.55 * len(classes) + 2.5), layout="constrained"
    )
    image = ax.imshow(means, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    for (i, j), v in np.ndenumerate(means):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", color="white" if v < 0.5 else "black")
    _slanted_xticklabels(ax, modalities)
    ax.set_yticks(range(len(classes)), classes)
    ax.set(xlabel="modality", ylabel="true class", title="Mean attention per class (test)")
    fig.colorbar(image, ax=ax, label="mean [CLS] attention")
    return fig


def attention_heatmap(
    attention: np.ndarray, y: np.ndarray, classes: list[str], modalities: list[str], path: Path
) -> Path:
    """Mean [CLS]→modality attention per true class: which modality the model leans on for each type."""
    return _save(attention_figure(attention, y, classes, modalities), path)


def training_curves(history: list[dict[str, float]], path: Path) -> Path:
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = [row["epoch"] for row in history]
    for key in ("train/loss_pretrain", "train/loss", "val/loss"):
        points = [(e, row[key]) for e, row in zip(epochs, history, strict=True) if key in row]
        if points:
            left.plot(*zip(*points, strict=True), label=key)
    for key in ("val/f1_macro", "val/accuracy", "val/auroc"):
        points = [(e, row[key]) for e, row in zip(epochs, history, strict=True) if key in row]
        if points:
            right.plot(*zip(*points, strict=True), label=key)
    left.set(xlabel="epoch", title="losses")
    right.set(xlabel="epoch", title="validation metrics", ylim=(0, 1.02))
    left.legend()
    right.legend()
    return _save(fig, path)


def _project(embedding: np.ndarray) -> tuple[np.ndarray, str, list[str]]:
    """2-D points, the method's name and the two axis labels (UMAP when installed, else PCA)."""
    try:
        import umap  # type: ignore[import-not-found]

        points = umap.UMAP(random_state=0).fit_transform(embedding)
        return points, "UMAP", ["UMAP component 1", "UMAP component 2"]
    except ImportError:
        pca = PCA(n_components=2, random_state=0)
        points = pca.fit_transform(embedding)
        labels = [
            f"PCA component {i + 1} ({share:.0%} of variance)"
            for i, share in enumerate(pca.explained_variance_ratio_)
        ]
        return points, "PCA", labels


def embedding_figure(embedding: np.ndarray, y: np.ndarray, classes: list[str]) -> plt.Figure:
    """Scatter of the fused [CLS] embeddings in two dimensions, coloured by true class."""
    points, method, (xlabel, ylabel) = _project(embedding)
    fig, ax = plt.subplots(figsize=(6.5, 4.5), layout="constrained")
    colours = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20").colors  # one colour per class
    for k, name in enumerate(classes):
        ax.scatter(points[y == k, 0], points[y == k, 1], s=10, color=colours[k % len(colours)], label=name)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=f"Fused [CLS] embeddings of the test set ({method})")
    ax.legend(title="true class", markerscale=2, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    return fig


def embedding_plot(embedding: np.ndarray, y: np.ndarray, classes: list[str], path: Path) -> Path:
    """2-D projection of the fused [CLS] embeddings (UMAP when installed, else PCA)."""
    return _save(embedding_figure(embedding, y, classes), path)


def reliability_figure(bins_before: list[dict], bins_after: list[dict]) -> plt.Figure:
    """Reliability diagrams before and after temperature scaling, from calibration.reliability_bins rows.

    Top: each non-empty bin's accuracy drawn at the bin's mean confidence, and a red line from it to the
    diagonal (perfect calibration) at that confidence, so a point below the diagonal is overconfidence.
    Bottom: how many test samples fall in each confidence bin, written over its bar.
    """
    fig, axes = plt.subplots(
        2, 2, figsize=(10, 7), sharex=True, sharey="row", height_ratios=(3, 1.3), layout="constrained"
    )
    for column, rows, name in zip(range(2), (bins_before, bins_after), ("before", "after"), strict=True):
        top, bottom = axes[0, column], axes[1, column]
        top.set_label(f"reliability {name}")
        bottom.set_label(f"counts {name}")
        filled = [row for row in rows if row["count"]]
        total = sum(row["count"] for row in filled)
        ece = sum(row["count"] * abs(row["accuracy"] - row["mean_confidence"]) for row in filled) / max(
            total, 1
        )
        confidence = [row["mean_confidence"] for row in filled]
        accuracy = [row["accuracy"] for row in filled]
        # Points at 0 or 1 drawn whole, over the frame (an empty unclipped line would break the layout).
        whole = {"clip_on": False} if filled else {}
        top.plot(
            [0, 1],
            [0, 1],
            "k--",
            linewidth=0.8,
            gid="diagonal",
            label="perfect calibration (accuracy = confidence)",
        )
        top.vlines(
            confidence,
            accuracy,
            confidence,
            color="tab:red",
            linewidth=1.5,
            **whole,
            gid="gap",
            label="gap from the bin's accuracy to its mean confidence",
        )
        top.plot(
            confidence,
            accuracy,
            "o-",
            color="tab:blue",
            markersize=5,
            **whole,
            gid="accuracy",
            label="bin's accuracy, at its mean confidence",
        )
        top.set(xlim=(0, 1), ylim=(0, 1), title=f"{name} (ECE {ece:.3f}, n = {total})")

        bottom.bar(
            [row["lower"] for row in rows],
            [row["count"] for row in rows],
            width=[row["upper"] - row["lower"] for row in rows],
            align="edge",
            color="0.7",
            edgecolor="black",
            linewidth=0.5,
        )
        for row in filled:
            bottom.annotate(
                str(row["count"]),
                xy=((row["lower"] + row["upper"]) / 2, row["count"]),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7,
                gid="bin count",
            )
        bottom.margins(y=0.3)
        bottom.set_xlabel("confidence (top-class probability)")
    axes[0, 0].set_ylabel("accuracy")
    axes[1, 0].set_ylabel("samples in bin")
    fig.suptitle("Reliability, temperature scaling (test)")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncols=3, fontsize=8)
    return fig


def reliability_plot(bins_before: list[dict], bins_after: list[dict], path: Path) -> Path:
    """Reliability diagrams before and after temperature scaling (see reliability_figure), as a PNG."""
    return _save(reliability_figure(bins_before, bins_after), path)
