"""The evaluate stage: metrics with bootstrap intervals, baselines, ablations, repeats, calibration,
conformal sets and attributions, to reports/ and MLflow.

Everything is logged into the training run (its id comes from the train stage), so the MLflow UI shows
one run per trained model with its curves, test metrics, figures and the ablation table.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from oncofusion import atomic, registry
from oncofusion.cohort import Cohort
from oncofusion.config import Params
from oncofusion.models.bundle import load_bundle
from oncofusion.models.calibration import calibration_report, reliability_bins
from oncofusion.models.conformal import set_metrics
from oncofusion.training import plots
from oncofusion.training.ablations import run_ablations
from oncofusion.training.baselines import run_baselines
from oncofusion.training.evaluate import METRIC_KEYS, Predictions, Scored, metrics_document
from oncofusion.training.interpret import attribution_report
from oncofusion.training.intervals import bootstrap_f1
from oncofusion.training.label_shift import label_shift_document, training_counts
from oncofusion.training.repeats import FUSION, run_repeats

log = logging.getLogger(__name__)

BASELINES = ("logistic_regression", "gradient_boosting")
GAINS = {
    "cross_attention_gain": "no_cross_attention_concat_mlp",
    "specific_encoders_gain": "generic_mlp_encoders",
    "progressive_training_gain": "no_progressive_training",
}
PAPER_CLAIMS = {"cross_attention_gain": 0.12, "specific_encoders_gain": 0.08}


def _write_plot_data(test: Predictions, classes: list[str], plots_dir: Path) -> None:
    """CSV files for `dvc plots show`: confusion (actual, predicted) and one ROC curve per class.

    Written into a staging directory that is swapped in whole, so plain writes suffice here."""
    confusion = pd.DataFrame(
        {"actual": [classes[i] for i in test.y], "predicted": [classes[i] for i in test.predicted]}
    )
    confusion.to_csv(plots_dir / "confusion.csv", index=False)
    (plots_dir / "roc").mkdir()
    for k, name in enumerate(classes):
        if 0 < (test.y == k).sum() < len(test.y):
            fpr, tpr, _ = roc_curve(test.y == k, test.probabilities[:, k])
            pd.DataFrame({"fpr": fpr, "tpr": tpr}).to_csv(plots_dir / "roc" / f"{name}.csv", index=False)


def _figures(test: Predictions, classes: list[str], modalities: list[str], figures_dir: Path) -> list[Path]:
    return [
        plots.confusion_plot(test.y, test.predicted, classes, figures_dir / "confusion_matrix.png"),
        plots.roc_plot(test.y, test.probabilities, classes, figures_dir / "roc.png"),
        plots.attention_heatmap(
            test.attention, test.y, classes, modalities, figures_dir / "attention_per_class.png"
        ),
        plots.embedding_plot(test.embedding, test.y, classes, figures_dir / "embeddings.png"),
    ]


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
    return {
        **model.conformal.to_dict(),
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


def _split_method(reports_dir: Path) -> str:
    """How the split stage made the partition (its metrics file says), for re-splitting in repeats."""
    try:
        return str(json.loads((reports_dir / "split.json").read_text())["method"])
    except (OSError, ValueError, KeyError):
        return "from the labels file's split column"  # unknown: keep the split as it is


def evaluate_and_report(
    cohort: Cohort, params: Params, model_dir: Path, reports_dir: Path, info: dict[str, Any]
) -> dict[str, Any]:
    """Compute everything first (the slow ablations and repeats included), then write: a failure leaves
    the old reports whole, and plot/figure directories are swapped in complete (no stale files)."""
    model = load_bundle(model_dir / "model.pt")
    document, predictions = metrics_document(model, cohort)
    # Per-class detail goes to a plain JSON beside the DVC metrics file (one column per class and
    # statistic made `dvc metrics show` unreadable).
    per_class = {"test": document.pop("test_per_class")}
    test = predictions["test"]
    others: dict[str, Scored] = {}
    if params.evaluate.baselines:
        others.update(run_baselines(cohort, model.modalities, params.base.seed, model.net.preprocess))
    if params.evaluate.ablations:
        others.update(run_ablations(cohort, params))
    predicted = {
        FUSION: test.predicted,
        **{k: v.test_called for k, v in others.items()},
    }
    intervals = bootstrap_f1(
        test.y,
        predicted,
        params.evaluate.bootstrap,
        params.base.seed,
        reference=FUSION,
        prefix="fusion",
        n_classes=len(cohort.classes),
    )
    fusion = {"val": document["val"], "test": document["test"]}
    table = ablation_table(fusion, {k: v.metrics for k, v in others.items()}, intervals)  # type: ignore[arg-type]
    # Each variant chooses its own share of transformer logits: near 0, the component ablations compare
    # little more than the same wide path, and this says so.
    table["deep_weight"] = {
        FUSION: float(model.net.members[0].deep_weight),
        **{k: v.deep_weight for k, v in others.items() if v.deep_weight is not None},
    }
    table["bootstrap"] = {
        "resamples": params.evaluate.bootstrap,
        "n_test": len(test.y),
        "intervals": intervals,
    }
    if params.evaluate.repeats > 1:
        first = {FUSION: document["test"], **{k: v["test"] for k, v in others.items()}}
        table["repeats"] = run_repeats(
            cohort,
            _split_method(reports_dir),
            params,
            params.evaluate.repeats,
            ablations=params.evaluate.ablations,
            first=first,  # type: ignore[arg-type]
        )
    interaction = interaction_document(cohort, test.y, predicted)
    if interaction is not None:
        table["interaction"] = interaction
    calibration = calibration_document(test, model.calibration)
    conformal = conformal_document(test, model)
    shift = None
    if not params.train.refit_on_train_val:  # a refit trained on val, which the check needs held out
        shift = label_shift_document(
            predictions["val"],
            test,
            training_counts(cohort.labels, cohort.classes),
            cohort.classes,
            decision=model.net.decision,
        )
    calibration["label_shift"] = shift
    document["test_f1_macro_ci95"] = intervals[FUSION]["ci95"]
    if "test" in calibration:
        document["test_calibration"] = {
            k: calibration["test"][k] for k in ("ece_before", "ece_after", "brier_before", "brier_after")
        }
    if conformal is not None:
        document["test_conformal"] = {
            "coverage_target": conformal["coverage"],
            "coverage": conformal["test"]["coverage"],
            "mean_set_size": conformal["test"]["mean_set_size"],
        }
    if shift is not None:
        document["test_label_shift"] = {
            "p_value": shift["shift_p_value"],
            "f1_macro_adapted": shift["test_f1_macro"]["adapted_to_estimated_mix"],  # type: ignore[index]
        }  # headline numbers only (tests/test_dvc_metrics.py); the verdict is in calibration.json
        if shift["verdict"] != "no shift":
            log.warning("label shift: %s (p = %.2g)", shift["advice"], shift["shift_p_value"])
    interpretation = attribution_report(model, cohort, test, params.evaluate.top_k)

    with atomic.atomic_directory(reports_dir / "plots") as staging:
        _write_plot_data(test, cohort.classes, staging)
    with atomic.atomic_directory(reports_dir / "figures") as staging:
        _figures(test, cohort.classes, model.modalities, staging)
        if "reliability_test" in calibration:
            plots.reliability_plot(
                calibration["reliability_test"]["before"],
                calibration["reliability_test"]["after"],
                staging / "reliability.png",
            )
    figures = sorted((reports_dir / "figures").glob("*.png"))
    atomic.write_json(reports_dir / "ablations.json", table)
    atomic.write_json(reports_dir / "calibration.json", {**calibration, "conformal": conformal})
    atomic.write_json(reports_dir / "interpretation.json", interpretation)
    atomic.write_json(reports_dir / "metrics_per_class.json", per_class)
    atomic.write_json(reports_dir / "metrics.json", document)

    registry.use_tracking()
    with mlflow.start_run(run_id=info["run_id"]):
        for split in ("val", "test"):
            mlflow.log_metrics({f"{split}_{k}": v for k, v in document[split].items()})  # type: ignore[union-attr]
        low, high = intervals[FUSION]["ci95"]
        mlflow.log_metrics({"test_f1_macro_ci95_low": low, "test_f1_macro_ci95_high": high})
        for name in others:
            entry = intervals[f"fusion_minus_{name}"]
            mlflow.log_metrics(
                {
                    f"fusion_minus_{name}_f1_macro": entry["mean"],
                    f"fusion_minus_{name}_ci95_low": entry["ci95"][0],
                    f"fusion_minus_{name}_ci95_high": entry["ci95"][1],
                }
            )
        if "repeats" in table:
            for name, row in table["repeats"]["rows"].items():
                mlflow.log_metrics(
                    {
                        f"repeats_{name}_f1_macro_mean": row["f1_macro"]["mean"],
                        f"repeats_{name}_f1_macro_sd": row["f1_macro"]["sd"],
                    }
                )
        if "test_calibration" in document:
            mlflow.log_metrics({f"test_{k}": float(v) for k, v in document["test_calibration"].items()})  # type: ignore[union-attr]
        if shift is not None:
            mlflow.log_metrics(
                {
                    "label_shift_p_value": float(shift["shift_p_value"]),  # type: ignore[arg-type]
                    "test_f1_macro_prior_adapted": float(shift["test_f1_macro"]["adapted_to_estimated_mix"]),  # type: ignore[index]
                }
            )
            mlflow.set_tag("label_shift_verdict", str(shift["verdict"]))
        if conformal is not None:
            mlflow.log_metrics(
                {
                    "test_conformal_coverage": conformal["test"]["coverage"],
                    "test_conformal_mean_set_size": conformal["test"]["mean_set_size"],
                }
            )
        for cls, values in per_class["test"].items():  # type: ignore[union-attr]
            mlflow.log_metrics({f"test_{cls}_{k}": float(v) for k, v in values.items() if k != "support"})
        for figure in figures:
            mlflow.log_artifact(str(figure), artifact_path="figures")
        mlflow.log_dict(table, "ablations.json")  # log_table would append rows when evaluate re-runs
        mlflow.log_dict({**calibration, "conformal": conformal}, "calibration.json")
        mlflow.log_dict(interpretation, "interpretation.json")
        mlflow.log_dict(document, "metrics.json")
        mlflow.log_dict(per_class, "metrics_per_class.json")
        gap = interpretation["completeness"]  # type: ignore[index]
        mlflow.log_metric("attribution_completeness_gap", gap["mean_abs_gap"])
        for name, entry in interpretation["modalities"].items():  # type: ignore[union-attr]
            if "precision_at_k" in entry:
                mlflow.log_metric(f"attribution_precision_at_k_{name}", entry["precision_at_k"])
    return {
        "metrics": document,
        "per_class": per_class,
        "ablations": table,
        "interpretation": interpretation,
        "calibration": calibration,
        "conformal": conformal,
    }
