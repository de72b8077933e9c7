"""The evaluate stage's documents: the ablation table with its gains, calibration, conformal sets and
the interaction check, built from predictions (the stage, :mod:`oncofusion.stages.evaluate`, writes them)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from oncofusion.cohort import Cohort
from oncofusion.evaluation.metrics import METRIC_KEYS, Predictions
from oncofusion.evaluation.repeats import FUSION
from oncofusion.models.calibration import calibration_report, reliability_bins
from oncofusion.models.conformal import set_metrics

log = logging.getLogger(__name__)

BASELINES = ("logistic_regression", "gradient_boosting")
GAINS = {
    "cross_attention_gain": "no_cross_attention_concat_mlp",
    "specific_encoders_gain": "generic_mlp_encoders",
    "progressive_training_gain": "no_progressive_training",
}
PAPER_CLAIMS = {"cross_attention_gain": 0.12, "specific_encoders_gain": 0.08}


def ablation_table(
    fusion: dict[str, dict[str, float]],
    others: dict[str, dict[str, dict[str, float]]],
    intervals: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One row per model (val and test metrics, the test macro-F1's 95% bootstrap interval) and a summary
    of the comparisons that matter, each with the paired bootstrap interval and its verdict."""
    intervals = intervals or {}
    rows = []
    for name, result in {FUSION: fusion, **others}.items():
        row: dict[str, Any] = {
            "model": name,
            **{f"{s}_{k}": result[s][k] for s in ("val", "test") for k in METRIC_KEYS},
        }
        if name in intervals:
            row["test_f1_macro_ci95"] = intervals[name]["ci95"]
        rows.append(row)
    by_name = {r["model"]: r for r in rows}
    full = by_name[FUSION]["test_f1_macro"]
    summary: dict[str, Any] = {"metric": "test_f1_macro", FUSION: full}

    def paired(name: str) -> dict[str, Any]:
        entry = intervals.get(f"fusion_minus_{name}")
        return {"ci95": entry["ci95"], "verdict": entry["verdict"]} if entry else {}

    baselines = [r for r in rows if r["model"] in BASELINES]
    if baselines:
        best = max(baselines, key=lambda r: r["test_f1_macro"])
        summary["best_baseline"] = best["model"]
        summary["fusion_minus_best_baseline"] = full - best["test_f1_macro"]
        summary["fusion_beats_best_baseline"] = bool(full > best["test_f1_macro"])
        if paired(best["model"]):
            summary["fusion_minus_best_baseline_ci95"] = paired(best["model"])["ci95"]
            summary["fusion_vs_best_baseline"] = paired(best["model"])["verdict"]
    for gain, ablation in GAINS.items():
        if ablation in by_name:
            summary[gain] = full - by_name[ablation]["test_f1_macro"]
            if paired(ablation):
                summary[f"{gain}_ci95"] = paired(ablation)["ci95"]
                summary[f"{gain}_verdict"] = paired(ablation)["verdict"]
    return {"rows": rows, "summary": summary, "paper_claims": PAPER_CLAIMS}


def calibration_document(test: Predictions, model_calibration: dict[str, Any] | None) -> dict[str, Any]:
    """NLL, ECE and Brier on the test split before and after the temperature fitted on val."""
    temperature = float((model_calibration or {}).get("temperature", 1.0))
    if test.uncalibrated_logits is None or not len(test.y):
        return {"temperature": temperature}
    report = calibration_report(test.uncalibrated_logits, test.y, temperature)
    before = np.exp(test.uncalibrated_logits - test.uncalibrated_logits.max(axis=1, keepdims=True))
    before /= before.sum(axis=1, keepdims=True)
    return {
        "fitted_on": "val",
        "test": report,
        "val": (model_calibration or {}).get("val"),
        "reliability_test": {
            "before": reliability_bins(before, test.y),
            "after": reliability_bins(test.probabilities, test.y),
        },
    }


def conformal_document(test: Predictions, model: Any) -> dict[str, Any] | None:
    if model.conformal is None or test.sets is None:
        return None
    metrics = set_metrics(test.sets, test.y)
    per_class = metrics.pop("per_class_coverage")
    stored = {k: v for k, v in model.conformal.to_dict().items() if k not in ("scores", "labels")}
    return {
        "what": "thresholds: the complete-sample ones (per pattern: 'patterns'); test figures: the sets "
        "as answered (the sample's pattern, the call always in, every class for a flagged sample)",
        **stored,
        "test": metrics,
        "test_per_class_coverage": dict(zip(model.classes, per_class, strict=True)),
        "n_test": len(test.y),
    }


def interaction_document(
    cohort: Cohort, y: np.ndarray, predicted: dict[str, np.ndarray]
) -> dict[str, Any] | None:
    """On a cohort with the generator's cross-modal interaction (cohort.json ground truth), how well each
    model tells the twin class from its base among the test samples of those two classes: only a model
    that combines methylation and copy number at the locus can (chance is about 0.5)."""
    truth = cohort.meta.ground_truth.get("interaction")
    if not truth:
        return None
    index = {c: i for i, c in enumerate(cohort.classes)}
    base, twin = index[truth["base"]], index[truth["twin"]]
    rows = np.isin(y, [base, twin])
    if not rows.any():
        return None
    return {
        "base": truth["base"],
        "twin": truth["twin"],
        "n_test": int(rows.sum()),
        "pair_accuracy": {
            name: round(float((p[rows] == y[rows]).mean()), 4) for name, p in predicted.items()
        },
        "what": "accuracy on test samples of the twin and base classes (only the locus separates them)",
    }
