"""The evaluate stage: metrics, plots, baselines, ablations and attributions, to reports/ and MLflow.

Everything is logged into the training run (its id comes from the train stage), so the MLflow UI shows
one run per trained model with its curves, test metrics, figures and the ablation table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from sklearn.metrics import roc_curve

from oncofusion import atomic, registry
from oncofusion.cohort import Cohort
from oncofusion.config import Params
from oncofusion.models.bundle import load_bundle
from oncofusion.training import plots
from oncofusion.training.ablations import run_ablations
from oncofusion.training.baselines import run_baselines
from oncofusion.training.evaluate import METRIC_KEYS, Predictions, metrics_document
from oncofusion.training.interpret import attribution_report

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
    fusion: dict[str, dict[str, float]], others: dict[str, dict[str, dict[str, float]]]
) -> dict[str, Any]:
    rows = [
        {
            "model": "fusion_transformer",
            **{f"{s}_{k}": fusion[s][k] for s in ("val", "test") for k in METRIC_KEYS},
        }
    ]
    for name, result in others.items():
        rows.append(
            {"model": name, **{f"{s}_{k}": result[s][k] for s in ("val", "test") for k in METRIC_KEYS}}
        )
    by_name = {r["model"]: r for r in rows}
    full = by_name["fusion_transformer"]["test_f1_macro"]
    summary: dict[str, Any] = {"metric": "test_f1_macro", "fusion_transformer": full}
    baselines = [r for r in rows if r["model"] in ("logistic_regression", "gradient_boosting")]
    if baselines:
        best = max(baselines, key=lambda r: r["test_f1_macro"])
        summary["best_baseline"] = best["model"]
        summary["fusion_minus_best_baseline"] = full - best["test_f1_macro"]
        summary["fusion_beats_best_baseline"] = bool(full > best["test_f1_macro"])
    if "no_cross_attention_concat_mlp" in by_name:
        summary["cross_attention_gain"] = full - by_name["no_cross_attention_concat_mlp"]["test_f1_macro"]
    if "generic_mlp_encoders" in by_name:
        summary["specific_encoders_gain"] = full - by_name["generic_mlp_encoders"]["test_f1_macro"]
    if "no_progressive_training" in by_name:
        summary["progressive_training_gain"] = full - by_name["no_progressive_training"]["test_f1_macro"]
    return {"rows": rows, "summary": summary, "paper_claims": PAPER_CLAIMS}


def evaluate_and_report(
    cohort: Cohort, params: Params, model_dir: Path, reports_dir: Path, info: dict[str, Any]
) -> dict[str, Any]:
    """Compute everything first (the slow ablations included), then write: a failure leaves the old
    reports whole, and plot/figure directories are swapped in complete (no stale per-class files)."""
    model = load_bundle(model_dir / "model.pt")
    document, predictions = metrics_document(model, cohort)
    test = predictions["test"]
    others: dict[str, dict[str, dict[str, float]]] = {}
    if params.evaluate.baselines:
        others.update(run_baselines(cohort, model.modalities, params.base.seed, model.net.preprocess))
    if params.evaluate.ablations:
        others.update(run_ablations(cohort, params))
    table = ablation_table({"val": document["val"], "test": document["test"]}, others)  # type: ignore[dict-item]
    interpretation = attribution_report(model, cohort, test, params.evaluate.top_k)

    with atomic.atomic_directory(reports_dir / "plots") as staging:
        _write_plot_data(test, cohort.classes, staging)
    with atomic.atomic_directory(reports_dir / "figures") as staging:
        _figures(test, cohort.classes, model.modalities, staging)
    figures = sorted((reports_dir / "figures").glob("*.png"))
    atomic.write_json(reports_dir / "ablations.json", table)
    atomic.write_json(reports_dir / "interpretation.json", interpretation)
    atomic.write_json(reports_dir / "metrics.json", document)

    registry.use_tracking()
    with mlflow.start_run(run_id=info["run_id"]):
        for split in ("val", "test"):
            mlflow.log_metrics({f"{split}_{k}": v for k, v in document[split].items()})  # type: ignore[union-attr]
        for cls, values in document["test_per_class"].items():  # type: ignore[union-attr]
            mlflow.log_metrics({f"test_{cls}_{k}": float(v) for k, v in values.items() if k != "support"})
        for figure in figures:
            mlflow.log_artifact(str(figure), artifact_path="figures")
        mlflow.log_dict(table, "ablations.json")  # log_table would append rows when evaluate re-runs
        mlflow.log_dict(interpretation, "interpretation.json")
        mlflow.log_dict(document, "metrics.json")
        for name, entry in interpretation["modalities"].items():  # type: ignore[union-attr]
            if "precision_at_k" in entry:
                mlflow.log_metric(f"attribution_precision_at_k_{name}", entry["precision_at_k"])
    return {"metrics": document, "ablations": table, "interpretation": interpretation}
