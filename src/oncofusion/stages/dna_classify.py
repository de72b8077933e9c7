"""The dna_classify stage: cancer type from variant embeddings, beside the catalogue classifier, on the
same split, in one table with intervals.

Rows: the fusion transformer on the catalogues alone, on the mean-pooled embeddings alone, and on
catalogues + mean-pooled embeddings fused (the embedding sample vector as one more modality); logistic
regression on the catalogues without the 1-Mb density one; the variant-set models
(``dna/sample_models.py``: a set transformer over every variant's embedding, with and without a learned
1-Mb position embedding, and the MuAt motif + position baseline at the catalogues' information); then
logistic regression and gradient boosting on the catalogues and on catalogues + embeddings, and logistic
regression on the mean embedding. Each test macro-F1 has a bootstrap interval, and each row's paired
difference from the fused model says "better" or "within noise".
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from oncofusion import atomic, tracking
from oncofusion.cohort import Cohort, Domain, ModalitySpec, require_validated
from oncofusion.config import Params
from oncofusion.dna.sample_models import set_model_predictions
from oncofusion.errors import CohortError
from oncofusion.evaluation.baselines import baseline_models, feature_matrix
from oncofusion.evaluation.intervals import bootstrap_f1
from oncofusion.evaluation.metrics import predict_split
from oncofusion.models.bundle import LoadedModel
from oncofusion.training.train import fit

FUSED = "fusion: catalogues + DNA embedding"
MEAN = "dna_mean"
DENSITY = "density"  # the 1-Mb catalogue: MuAt's position tokens say the same, one variant at a time


def _modality(name: str, frame: pd.DataFrame, description: str) -> ModalitySpec:
    return ModalitySpec(
        file=f"{name}.parquet",
        features=[str(c) for c in frame.columns],
        domain=Domain(),
        kind="tabular",
        transform="zscore",
        description=description,
    )


def with_embeddings(cohort: Cohort, mean: pd.DataFrame) -> Cohort:
    modalities = {**cohort.modalities, MEAN: mean}
    specs = {
        **cohort.meta.modalities,
        MEAN: _modality(MEAN, mean, "mean over variants of the tumour and tumour − normal embeddings"),
    }
    meta = cohort.meta.model_copy(update={"modalities": specs})
    return Cohort(meta, cohort.labels, modalities, cohort.annotations, {})


def _fit_predict(cohort: Cohort, params: Params, modalities: list[str]):
    model_params = params.model.model_copy(
        update={
            "modalities": modalities,
            "encoders": {k: v for k, v in params.model.encoders.items() if k in modalities},
        }
    )
    chosen = params.model_copy(update={"model": model_params})
    with tempfile.TemporaryDirectory(prefix="oncofusion-dna-classify-") as work:
        result = fit(cohort, chosen, Path(work))
    net = result.net
    test = predict_split(LoadedModel(net, cohort.classes, {}), cohort, "test")
    return test.y, test.predicted, net.preprocess


def _baselines(
    cohort: Cohort, modalities: list[str], preprocess, seed: int, skip: tuple[str, ...] = ()
) -> dict[str, np.ndarray]:
    x_train, y_train = feature_matrix(cohort, modalities, "train", preprocess)
    x_test, _ = feature_matrix(cohort, modalities, "test", preprocess)
    measured = ~np.isnan(x_train).all(axis=0)
    out = {}
    for name, estimator in baseline_models(seed).items():
        if name in skip:
            continue
        estimator.fit(x_train[:, measured], y_train)
        out[name] = estimator.predict(x_test[:, measured])
    return out


def dna_classify(params: Params, cohort_dir: Path, embeddings: Path, reports_dir: Path) -> dict[str, Any]:
    started = time.perf_counter()
    require_validated(cohort_dir)
    cohort = Cohort.load(cohort_dir)
    catalogues = list(cohort.meta.modalities)
    try:
        mean = pd.read_parquet(embeddings / "samples.parquet")
    except (OSError, ValueError) as error:
        raise CohortError(f"{embeddings}: no usable sample embeddings ({error}); run dna_embed") from None
    extended = with_embeddings(cohort, mean)

    predictions: dict[str, np.ndarray] = {}
    y = None
    rows = {
        "fusion: catalogues": catalogues,
        "fusion: DNA embedding (mean)": [MEAN],
        FUSED: [*catalogues, MEAN],
    }
    preprocess = {}
    for name, modalities in rows.items():
        y, predictions[name], preprocess[name] = _fit_predict(extended, params, modalities)
    seed = params.base.seed
    motif_catalogues = [m for m in catalogues if m != DENSITY]
    for model, predicted in _baselines(
        extended, motif_catalogues, preprocess["fusion: catalogues"], seed, ("gradient_boosting",)
    ).items():
        predictions[f"{model}: catalogues without {DENSITY}"] = predicted
    set_predictions, set_info = set_model_predictions(embeddings, cohort, params)
    predictions.update(set_predictions)
    for label, key, skip in (
        ("catalogues", "fusion: catalogues", ()),
        # hundreds of dense columns: boosting costs minutes for a row logistic regression covers
        ("DNA embedding (mean)", "fusion: DNA embedding (mean)", ("gradient_boosting",)),
        ("catalogues + DNA embedding", FUSED, ()),
    ):
        for model, predicted in _baselines(extended, rows[key], preprocess[key], seed, skip).items():
            predictions[f"{model}: {label}"] = predicted
    intervals = bootstrap_f1(
        y, predictions, params.dna.classify.bootstrap, seed, reference=FUSED, prefix="fused"
    )
    ranked = sorted(predictions, key=lambda n: -intervals[n]["f1_macro"])
    document = {
        "n_test": len(y),
        "classes": cohort.classes,
        "rows": {n: intervals[n] for n in predictions},
        "comparisons": {k: v for k, v in intervals.items() if k not in predictions},
        "best": ranked[0],
        "set_models": set_info,
        "seconds": round(time.perf_counter() - started, 2),
    }
    table = _markdown(document)
    atomic.write_json(reports_dir / "dna_classify.json", document)
    atomic.write_json(reports_dir / "dna_classify_summary.json", summary(document))
    atomic.write_text(reports_dir / "dna_classify.md", table)
    experiment = tracking.ensure_experiment(cohort.meta.name)
    tags = {"oncofusion.stage": "dna_classify", "oncofusion.cohort": cohort.meta.name}
    with mlflow.start_run(experiment_id=experiment, run_name="dna_classify", tags=tags):
        for i, (name, row) in enumerate(document["rows"].items()):
            mlflow.log_metric(f"test_f1_macro/{i}", row["f1_macro"])
            mlflow.set_tag(f"row.{i}", name)
        mlflow.log_text(table, "dna_classify.md")
        mlflow.log_dict(document, "dna_classify.json")
    return document


def summary(document: dict[str, Any]) -> dict[str, Any]:
    """The DVC metrics: test macro-F1 per row and the best row. Intervals and paired differences stay in
    dna_classify.json, which as a metrics file gave `dvc metrics show` three dozen columns."""
    return {
        "n_test": document["n_test"],
        "best": document["best"],
        "f1_macro": {name: row["f1_macro"] for name, row in document["rows"].items()},
    }


def _markdown(document: dict[str, Any]) -> str:
    lines = [
        f"Test set: {document['n_test']} samples, {len(document['classes'])} classes; "
        "95% bootstrap intervals.",
        "",
        "| model | test macro-F1 [95% CI] | accuracy | vs fused (paired Δ, 95% CI) |",
        "|---|---|---|---|",
    ]
    for name, row in document["rows"].items():
        comparison = document["comparisons"].get(f"fused_minus_{name}")
        versus = (
            f"{comparison['mean']:+.3f} [{comparison['ci95'][0]:+.3f}, {comparison['ci95'][1]:+.3f}] "
            f"{comparison['verdict']}"
            if comparison
            else "—"
        )
        lines.append(
            f"| {name} | {row['f1_macro']:.3f} [{row['ci95'][0]:.3f}, {row['ci95'][1]:.3f}] | "
            f"{row['accuracy']:.3f} | {versus} |"
        )
    lines += ["", f"Best point estimate: {document['best']}."]
    return "\n".join(lines) + "\n"
