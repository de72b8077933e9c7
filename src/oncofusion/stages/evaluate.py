"""Stage `evaluate`: metrics with bootstrap intervals, baselines, ablations, repeats, calibration,
conformal sets and attributions, to reports/ and MLflow.

Everything is logged into the training run (its id comes from the train stage), so the MLflow UI shows
one run per trained model with its curves, test metrics, figures and the ablation table.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from sklearn.metrics import roc_curve

from oncofusion import atomic, tracking
from oncofusion.cohort import Cohort
from oncofusion.config import Params, parse_params
from oncofusion.evaluation import plots
from oncofusion.evaluation.ablations import run_ablations
from oncofusion.evaluation.baselines import run_baselines
from oncofusion.evaluation.cross_study import cross_study_report
from oncofusion.evaluation.external_cohort import load_external_cohort
from oncofusion.evaluation.interpret import attribution_report
from oncofusion.evaluation.intervals import bootstrap_f1
from oncofusion.evaluation.label_shift import label_shift_document, training_counts
from oncofusion.evaluation.metrics import Predictions, Scored, metrics_document
from oncofusion.evaluation.repeats import FUSION, run_repeats
from oncofusion.evaluation.report import (
    ablation_table,
    calibration_document,
    conformal_document,
    interaction_document,
)
from oncofusion.evaluation.set_report import MIN_PER_CLASS, pattern_report
from oncofusion.models.bundle import load_bundle
from oncofusion.stages.inputs import split_cohort, train_info

log = logging.getLogger(__name__)


def _write_plot_data(test: Predictions, classes: list[str], plots_dir: Path) -> None:
    """CSV files for `dvc plots show`: confusion (actual, predicted) and one ROC curve per class, named
    after the class with any character a file name cannot hold replaced by "_" (cfDNA's "Advanced
    Fibrosis/Cirrhosis" made a directory of it and stopped the stage).

    Written into a staging directory that is swapped in whole, so plain writes suffice here."""
    confusion = pd.DataFrame(
        {"actual": [classes[i] for i in test.y], "predicted": [classes[i] for i in test.predicted]}
    )
    confusion.to_csv(plots_dir / "confusion.csv", index=False)
    (plots_dir / "roc").mkdir()
    for k, name in enumerate(classes):
        if 0 < (test.y == k).sum() < len(test.y):
            fpr, tpr, _ = roc_curve(test.y == k, test.probabilities[:, k])
            file = re.sub(r"[^A-Za-z0-9._ -]", "_", name).strip() or f"class_{k}"
            pd.DataFrame({"fpr": fpr, "tpr": tpr}).to_csv(plots_dir / "roc" / f"{file}.csv", index=False)


def _figures(test: Predictions, classes: list[str], modalities: list[str], figures_dir: Path) -> list[Path]:
    return [
        plots.confusion_plot(test.y, test.predicted, classes, figures_dir / "confusion_matrix.png"),
        plots.roc_plot(test.y, test.probabilities, classes, figures_dir / "roc.png"),
        plots.attention_heatmap(
            test.attention, test.y, classes, modalities, figures_dir / "attention_per_class.png"
        ),
        plots.embedding_plot(test.embedding, test.y, classes, figures_dir / "embeddings.png"),
    ]


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
    external = None
    if params.evaluate.test_cohort is not None:  # refused here, before minutes of baselines, if unfit
        external, ingest = load_external_cohort(params, params.evaluate.test_cohort, model)
    others: dict[str, Scored] = {}
    if params.evaluate.baselines:
        others.update(
            run_baselines(cohort, model.modalities, params.base.seed, model.net.preprocess, external)
        )
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
    if conformal is not None:
        conformal["patterns"] = pattern_report(model, test.data)
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
            "empty_share": conformal["test"]["empty_share"],
        }
        rows = [  # patterns with enough test samples for a coverage worth comparing (as per class)
            r
            for r in ((conformal["patterns"] or {}).get("patterns") or {}).values()
            if r["n"] >= MIN_PER_CLASS
        ]
        if rows:
            document["test_conformal"]["lowest_pattern_coverage"] = min(r["now"]["coverage"] for r in rows)
    if shift is not None:
        document["test_label_shift"] = {
            "p_value": shift["shift_p_value"],
            "f1_macro_adapted": shift["test_f1_macro"]["adapted_to_estimated_mix"],  # type: ignore[index]
        }  # headline numbers only (tests/test_dvc_metrics.py); the verdict is in calibration.json
        if shift["verdict"] != "no shift":
            log.warning("label shift: %s (p = %.2g)", shift["advice"], shift["shift_p_value"])
    interpretation = attribution_report(model, cohort, test, params.evaluate.top_k)
    cross = None
    if external is not None:
        cross = cross_study_report(
            model,
            cohort,
            external,
            predictions,
            others,
            params.evaluate.bootstrap,
            params.base.seed,
            ingest.lines(),
        )
        cross["test_cohort"] = str(params.evaluate.test_cohort)
        document["cross_study"] = {
            "f1_macro": cross["f1_macro"]["cross_study"][FUSION]["f1_macro"],
            "accuracy": cross["accuracy"][FUSION]["cross_study"],
        }
        if "sets" in cross:
            document["cross_study"]["set_coverage"] = cross["sets"]["now"]["coverage"]

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
    atomic.write_json(reports_dir / "headline.json", headline(document))
    if cross is not None:
        atomic.write_json(reports_dir / "cross_study.json", cross)
    else:
        (reports_dir / "cross_study.json").unlink(missing_ok=True)  # no stale cross-study result

    tracking.use_tracking()
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
                    "test_conformal_empty_share": conformal["test"]["empty_share"],
                }
            )
            for key, row in ((conformal["patterns"] or {}).get("patterns") or {}).items():
                name = key.replace("+", "_and_")
                mlflow.log_metrics(
                    {
                        f"test_set_coverage_{name}": row["now"]["coverage"],
                        f"test_set_size_{name}": row["now"]["mean_set_size"],
                    }
                )
        for cls, values in per_class["test"].items():  # type: ignore[union-attr]
            mlflow.log_metrics({f"test_{cls}_{k}": float(v) for k, v in values.items() if k != "support"})
        for figure in figures:
            mlflow.log_artifact(str(figure), artifact_path="figures")
        mlflow.log_dict(table, "ablations.json")  # log_table would append rows when evaluate re-runs
        mlflow.log_dict({**calibration, "conformal": conformal}, "calibration.json")
        mlflow.log_dict(interpretation, "interpretation.json")
        if cross is not None:
            mlflow.log_dict(cross, "cross_study.json")
            mlflow.log_metrics({f"cross_study_{k}": float(v) for k, v in document["cross_study"].items()})
            for name, entry in cross["accuracy"].items():
                mlflow.log_metric(f"cross_study_accuracy_gap_{name}", entry["gap"])
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
        "cross_study": cross,
    }


def evaluate(params: Params, cohort_dir: Path, model_dir: Path, reports_dir: Path) -> dict[str, Any]:
    atomic.require_writable(reports_dir / "metrics.json")
    info = train_info(model_dir)
    if "params" in info:  # ablations vary the configuration that was trained (tuned values included)
        trained = parse_params(info["params"], source=f"{model_dir / 'train.json'}")
        params = trained.model_copy(update={"evaluate": params.evaluate})
    return evaluate_and_report(split_cohort(cohort_dir)[0], params, model_dir, reports_dir, info)


def headline(document: dict[str, Any]) -> dict[str, float]:
    """The few numbers `dvc metrics show` tabulates for a branch (one row each, fits a terminal); the
    full document stays in metrics.json, whose layout the benchmarks and users rely on."""
    test, val = document["test"], document["val"]
    numbers = {
        "test_f1_macro": test["f1_macro"],
        "test_accuracy": test["accuracy"],
        "test_auroc": test["auroc"],
        "val_f1_macro": val["f1_macro"],
    }
    if "test_conformal" in document:
        numbers["set_coverage"] = document["test_conformal"]["coverage"]
    return numbers
