"""Figures for MLflow and reports/: confusion matrix, ROC, attention per class, curves, embeddings."""

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
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def confusion_plot(y: np.ndarray, predicted: np.ndarray, classes: list[str], path: Path) -> Path:
    matrix = confusion_matrix(y, predicted, labels=range(len(classes)))
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), n in np.ndenumerate(matrix):
        ax.text(j, i, str(n), ha="center", va="center", color="white" if n > matrix.max() / 2 else "black")
    ax.set(xticks=range(len(classes)), yticks=range(len(classes)), xticklabels=classes, yticklabels=classes)
    ax.set(xlabel="predicted", ylabel="actual", title="Confusion matrix (test)")
    return _save(fig, path)


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


def attention_heatmap(
    attention: np.ndarray, y: np.ndarray, classes: list[str], modalities: list[str], path: Path
) -> Path:
    """Mean [CLS]→modality attention per true class: which modality the model leans on for each type."""
    means = np.stack(
        [
            attention[y == k].mean(axis=0) if (y == k).any() else np.zeros(len(modalities))
            for k in range(len(classes))
        ]
    )
    fig, ax = plt.subplots(figsize=(1.6 * len(modalities) + 2, 0.5 * len(classes) + 2))
    image = ax.imshow(means, cmap="viridis", vmin=0, vmax=1)
    for (i, j), v in np.ndenumerate(means):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", color="white" if v < 0.5 else "black")
    ax.set(
        xticks=range(len(modalities)), yticks=range(len(classes)), xticklabels=modalities, yticklabels=classes
    )
    ax.set_title("Mean attention per class")
    fig.colorbar(image, ax=ax)
    return _save(fig, path)


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


def embedding_plot(embedding: np.ndarray, y: np.ndarray, classes: list[str], path: Path) -> Path:
    """2-D projection of the fused [CLS] embeddings (UMAP when installed, else PCA)."""
    try:
        import umap  # type: ignore[import-not-found]

        points, method = umap.UMAP(random_state=0).fit_transform(embedding), "UMAP"
    except ImportError:
        points, method = PCA(n_components=2, random_state=0).fit_transform(embedding), "PCA"
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    for k, name in enumerate(classes):
        ax.scatter(points[y == k, 0], points[y == k, 1], s=10, label=name)
    ax.set(title=f"Fused embeddings ({method}, test)")
    ax.legend(markerscale=2)
    return _save(fig, path)


def reliability_plot(bins_before: list[dict], bins_after: list[dict], path: Path) -> Path:
    """Reliability diagrams before and after temperature scaling, from calibration.reliability_bins rows.

    Bars are each bin's accuracy; the diagonal is perfect calibration, so bars below it mean overconfidence.
    """
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5), sharey=True)
    for ax, rows, title in zip(axes, (bins_before, bins_after), ("before", "after"), strict=True):
        filled = [row for row in rows if row["count"]]
        total = sum(row["count"] for row in filled)
        ece = sum(row["count"] * abs(row["accuracy"] - row["mean_confidence"]) for row in filled) / max(
            total, 1
        )
        ax.bar(
            [(row["lower"] + row["upper"]) / 2 for row in filled],
            [row["accuracy"] for row in filled],
            width=[row["upper"] - row["lower"] for row in filled],
            edgecolor="black",
            linewidth=0.5,
            label="accuracy",
        )
        ax.plot(
            [row["mean_confidence"] for row in filled],
            [row["accuracy"] for row in filled],
            "o",
            color="tab:red",
            markersize=4,
            label="mean confidence",
        )
        ax.plot([0, 1], [0, 1], "k--", linewidth=0.8)
        ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="confidence (top class)", title=f"{title} (ECE {ece:.3f})")
        ax.legend(loc="upper left")
    axes[0].set_ylabel("accuracy")
    fig.suptitle("Reliability, temperature scaling")
    return _save(fig, path)
