"""Metrics for a trained model on the val and test partitions, in the schema of ARCHITECTURE.md."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support, roc_auc_score

from oncofusion.cohort import Cohort
from oncofusion.models.bundle import LoadedModel
from oncofusion.training.data import CohortTensors, cohort_tensors

METRIC_KEYS = ("accuracy", "f1_macro", "f1_weighted", "auroc")


def classification_metrics(
    y: np.ndarray, probabilities: np.ndarray, predicted: np.ndarray | None = None
) -> dict[str, float]:
    """Accuracy and F1 of the called classes (``predicted``; default the most probable), AUROC of the
    probabilities."""
    n_classes = probabilities.shape[1]
    if predicted is None:
        predicted = probabilities.argmax(axis=1)
    try:
        if n_classes == 2:
            auroc = roc_auc_score(y, probabilities[:, 1])
        else:
            auroc = roc_auc_score(
                y, probabilities, multi_class="ovr", average="macro", labels=list(range(n_classes))
            )
    except ValueError:  # a class absent from this partition
        auroc = float("nan")
    return {
        "accuracy": float(accuracy_score(y, predicted)),
        "f1_macro": float(
            f1_score(y, predicted, average="macro", labels=list(range(n_classes)), zero_division=0)
        ),
        "f1_weighted": float(f1_score(y, predicted, average="weighted", zero_division=0)),
        "auroc": float(auroc),
    }


def per_class(y: np.ndarray, predicted: np.ndarray, classes: list[str]) -> dict[str, dict[str, float]]:
    precision, recall, f1, support = precision_recall_fscore_support(
        y, predicted, labels=list(range(len(classes))), zero_division=0
    )
    return {
        c: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for c, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)
    }


@dataclass
class Scored:
    """One model's metrics per split, its test probabilities and calls (for intervals and paired tests).

    The calls are the model's own (a fusion model's decision can differ from the most probable class),
    so every consumer scores what the model would answer."""

    metrics: dict[str, dict[str, float]]  # "val" / "test" → classification_metrics
    test_probabilities: np.ndarray
    test_called: np.ndarray
    # A fusion variant's share of transformer logits (training/deep_weight.py); None for baselines.
    deep_weight: float | None = None
    # Probabilities on an external test cohort (evaluate.test_cohort), when one was given.
    external_probabilities: np.ndarray | None = None

    def __getitem__(self, split: str) -> dict[str, float]:
        return self.metrics[split]


@dataclass
class Predictions:
    data: CohortTensors
    probabilities: np.ndarray
    attention: np.ndarray
    embedding: np.ndarray
    uncalibrated_logits: np.ndarray | None = None
    sets: np.ndarray | None = None  # conformal prediction sets (samples × classes), when the model has them
    called: np.ndarray | None = None  # the model's decision (balanced or most probable); None: most probable

    @property
    def y(self) -> np.ndarray:
        return self.data.target.numpy()

    @property
    def predicted(self) -> np.ndarray:
        return self.called if self.called is not None else self.probabilities.argmax(axis=1)

    def metrics(self) -> dict[str, float]:
        return classification_metrics(self.y, self.probabilities, self.predicted)


def predict_split(model: LoadedModel, cohort: Cohort, split: str) -> Predictions:
    data = cohort_tensors(cohort, model.modalities, split)
    result = model.predict({k: v.numpy() for k, v in data.inputs.items()}, data.present.numpy())
    return Predictions(
        data,
        result["probabilities"],
        result["attention"],
        result["embedding"],
        uncalibrated_logits=result.get("uncalibrated_logits"),
        sets=result.get("sets"),
        called=result.get("predicted"),
    )


def metrics_document(model: LoadedModel, cohort: Cohort) -> tuple[dict[str, object], dict[str, Predictions]]:
    """The metrics.json document (ARCHITECTURE.md schema, plus per-class detail) and the predictions."""
    predictions = {split: predict_split(model, cohort, split) for split in ("val", "test")}
    counts = cohort.labels["split"].value_counts()
    document: dict[str, object] = {
        "test": predictions["test"].metrics(),
        "val": predictions["val"].metrics(),
        "classes": list(cohort.classes),
        "n_train": int(counts.get("train", 0)),
        "n_val": int(counts.get("val", 0)),
        "n_test": int(counts.get("test", 0)),
        "test_per_class": per_class(predictions["test"].y, predictions["test"].predicted, cohort.classes),
    }
    return document, predictions
