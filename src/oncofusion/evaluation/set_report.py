"""How the prediction sets keep their promise on the test split: per pattern of present modalities,
against the sets the model gave before per-pattern thresholds (complete-sample thresholds, no rule
that the called class is in its set).

Each pattern is simulated on the test samples that have its modalities, the others masked, exactly as
a served request with only those modalities is answered. The figures are coverage, mean set size, the
share of empty sets, the share of sets holding the called class, and the share where the called class
had to be added (the coverage accounting of that rule).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from oncofusion.models.bundle import LoadedModel
from oncofusion.models.conformal import set_metrics
from oncofusion.models.set_predictor import pattern_key, patterns_of
from oncofusion.training.data import CohortTensors

MIN_PER_CLASS = 30  # per-class coverage is reported for classes with at least this many test samples


def _figures(sets: np.ndarray, y: np.ndarray, called: np.ndarray) -> dict[str, Any]:
    metrics = set_metrics(sets, y)
    metrics.pop("per_class_coverage")
    metrics["called_in_set_share"] = float(sets[np.arange(len(y)), called].mean())
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()}


def set_figures(
    model: LoadedModel, result: dict[str, Any], y: np.ndarray, classes: list[str]
) -> dict[str, Any]:
    """Coverage and the rest for one batch's answers, with per-class coverage where counts allow."""
    sets = result["sets"]
    figures = _figures(sets, y, result["predicted"])
    figures["called_added_share"] = round(float(np.mean(result["called_added"])), 4)
    figures["outside_training_share"] = round(float(np.mean([bool(r) for r in result["outside"]])), 4)
    covered = sets[np.arange(len(y)), y]
    figures["per_class_coverage"] = {
        c: round(float(covered[y == k].mean()), 4)
        for k, c in enumerate(classes)
        if (y == k).sum() >= MIN_PER_CLASS
    }
    return figures


def pattern_report(model: LoadedModel, data: CohortTensors) -> dict[str, Any] | None:
    """Per pattern: the sets as served now and as they were, on the test samples having its modalities."""
    if model.sets is None or not len(data.target):
        return None
    names = model.modalities
    present = data.present.numpy()
    y = data.target.numpy()
    rows_out: dict[str, Any] = {}
    for pattern in patterns_of(len(names), present):
        wanted = np.asarray(pattern, dtype=bool)
        rows = np.flatnonzero(present[:, wanted].all(axis=1))
        if not len(rows):
            continue
        masked = np.broadcast_to(wanted, (len(rows), len(wanted))).copy()
        inputs = {m: v.numpy()[rows] for m, v in data.inputs.items()}
        result = model.predict(inputs, masked)
        before = model.conformal.predict_sets(result["probabilities"])  # type: ignore[union-attr]
        rows_out[pattern_key(names, wanted)] = {
            "n": len(rows),
            "now": set_figures(model, result, y[rows], model.classes),
            "before": _figures(before, y[rows], result["predicted"]),
            "calibrated_for": sorted(set(result["set_calibrated_for"])),
        }
    return {
        "what": "each pattern of present modalities simulated on the test samples that have them; "
        "'before': complete-sample thresholds and no called-class rule",
        "coverage_target": model.sets.coverage,
        "patterns": rows_out,
    }
