"""The train stage: fit, then save the bundle and log the run (params, curves, model) to MLflow.

A model is logged only after training finished cleanly; a diverged run is marked FAILED in MLflow and
leaves no model behind (the output directory is swapped in only at the very end).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import torch
from lightning.pytorch.loggers import MLFlowLogger

from oncofusion import atomic, registry
from oncofusion.cohort import Cohort
from oncofusion.config import Params
from oncofusion.models.bundle import LoadedModel, load_bundle, save_bundle
from oncofusion.training import plots
from oncofusion.training.data import CohortTensors
from oncofusion.training.train import TrainResult, fit, resolve_architecture

BUNDLE = "model.pt"
INFO = "train.json"


def flat_params(params: Params) -> dict[str, Any]:
    dumped = params.model_dump(mode="json", include={"base", "model", "train"})
    flat: dict[str, Any] = {}
    for section, values in dumped.items():
        for key, value in values.items():
            flat[f"{section}.{key}"] = value
    return flat


def modality_schema(cohort: Cohort, modalities: list[str]) -> dict[str, dict[str, Any]]:
    return {
        m: {
            "kind": cohort.meta.modalities[m].kind,
            "features": cohort.meta.modalities[m].features,
            "domain": cohort.meta.modalities[m].domain.model_dump(),
        }
        for m in modalities
    }


def example_frame(data: CohortTensors, schema: dict[str, dict[str, Any]], rows: int = 5) -> pd.DataFrame:
    columns = {}
    for modality, spec in schema.items():
        values = data.inputs[modality][:rows].numpy()
        for j, feature in enumerate(spec["features"]):
            columns[f"{modality}/{feature}"] = values[:, j].astype("float64")
    return pd.DataFrame(columns)


def _log_member_curves(result: TrainResult) -> None:
    """Ensemble members train without a Lightning logger (in worker processes): their curves are logged
    here, one metric family per fold (``fold2/val/nll``), stepped by epoch."""
    if len(result.members) < 2:
        return
    for member in result.members:
        for row in member.history:
            step = int(row["epoch"])
            mlflow.log_metrics(
                {f"fold{member.index}/{k}": v for k, v in row.items() if k != "epoch"}, step=step
            )


def train_and_log(
    cohort: Cohort, params: Params, model_dir: Path, work_dir: Path, resume: bool = False
) -> dict[str, Any]:
    resolve_architecture(cohort, params)  # bad requests fail here, before an MLflow run exists
    registry.ensure_experiment(cohort.meta.name)
    logger = MLFlowLogger(
        # Under `mlflow run`, log into the run MLflow Projects opened instead of a second one.
        run_id=os.environ.get("MLFLOW_RUN_ID"),
        experiment_name=registry.experiment_name(cohort.meta.name),
        tracking_uri=registry.tracking_uri(),
        artifact_location=registry.artifact_location(),
        run_name="train",
        tags={"oncofusion.stage": "train", "oncofusion.cohort": cohort.meta.name},
        log_model=False,
    )
    logger.log_hyperparams(flat_params(params))
    started = time.perf_counter()
    try:
        result = fit(cohort, params, work_dir, logger=logger, resume=resume)
    except BaseException:
        logger.finalize("FAILED")
        raise
    seconds = time.perf_counter() - started

    schema = modality_schema(cohort, result.net.names)
    calibration = result.calibration.to_dict()
    info = {
        "run_id": logger.run_id,
        "experiment_id": logger.experiment_id,
        "epochs": result.epochs,
        "members": [
            {"index": m.index, "epochs": m.epochs, "best_score": m.best_score} for m in result.members
        ],
        "best_val_f1_macro": result.best_val_f1,
        "calibration": calibration,
        "train_seconds": round(seconds, 2),
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        # The params actually trained with (tuned values applied), so evaluate's ablations match them.
        "params": params.model_dump(mode="json", by_alias=True),
    }
    with atomic.atomic_directory(model_dir) as staging:
        save_bundle(
            result.net,
            cohort.classes,
            schema,
            staging / BUNDLE,
            conformal=result.calibration.conformal,
            calibration=calibration,
        )
        plots.training_curves(result.history, staging / "training_curves.png")
        atomic.write_json(staging / INFO, info)
        model: LoadedModel = load_bundle(staging / BUNDLE)
        example = example_frame(result.val_data, schema)
        with mlflow.start_run(run_id=logger.run_id):
            mlflow.log_metrics(
                {
                    "train_seconds": seconds,
                    "best_val_f1_macro": result.best_val_f1,
                    "temperature": result.calibration.temperature,
                    "ensemble_members": len(result.members),
                }
            )
            _log_member_curves(result)
            mlflow.log_artifact(str(staging / "training_curves.png"), artifact_path="figures")
            logged = registry.log_model(model, staging / BUNDLE, example)
        info["model_uri"] = logged.model_uri
        atomic.write_json(staging / INFO, info)
    return info
