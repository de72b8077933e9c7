"""Stage `train`: apply the tuned values, fit, then save the bundle and log the run (params, curves, model) to
MLflow. The fitting itself is in :mod:`oncofusion.training`.

A model is logged only after training finished cleanly; a diverged run is marked FAILED in MLflow and
leaves no model behind (the output directory is swapped in only at the very end).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import torch
from lightning.pytorch.loggers import MLFlowLogger
from mlflow.tracking import MlflowClient

from oncofusion import atomic, registry, tracking
from oncofusion.cohort import Cohort
from oncofusion.config import Params
from oncofusion.errors import CohortError
from oncofusion.evaluation import plots
from oncofusion.models.bundle import LoadedModel, load_bundle, save_bundle
from oncofusion.models.outliers import fit_outliers
from oncofusion.monitoring.reference import fit_reference
from oncofusion.stages.inputs import split_cohort
from oncofusion.training import resume as resuming
from oncofusion.training.data import CohortTensors
from oncofusion.training.member import MemberResult
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


def _log_member_curves(client: MlflowClient, run_id: str, result: TrainResult) -> None:
    """Ensemble members train without a Lightning logger (in worker processes): their curves are logged
    here, one metric family per fold (``fold2/val/nll``), stepped by epoch (only what the run lacks, so
    a resumed run logs no epoch twice)."""
    if len(result.members) < 2:
        return
    series: dict[str, dict[int, float]] = {}
    for member in result.members:
        for row in member.history:
            for k, v in row.items():
                if k != "epoch":
                    series.setdefault(f"fold{member.index}/{k}", {})[int(row["epoch"])] = v
    resuming.log_absent(client, run_id, series)


def _wide_screen_metrics(members: list[MemberResult]) -> dict[str, float]:
    """How many features the members' wide starts kept (mean over members), so a screen that kept
    nothing, or everything, shows in the MLflow run instead of only in the log."""
    starts = [m.wide_start for m in members if m.wide_start is not None]
    if not starts:
        return {}
    return {
        "wide_features_kept": sum(s.kept for s in starts) / len(starts),
        "wide_features": float(starts[0].features),
    }


def _global_rank() -> int:
    """This process's rank under DDP (0 without it): Lightning reads it from the launcher's environment
    (its own re-launch, torchrun's RANK, SLURM_PROCID) at import."""
    from lightning.pytorch.utilities import rank_zero_only

    return int(getattr(rank_zero_only, "rank", 0))


def _open_logger(cohort: Cohort, params: Params, work_dir: Path, resume: bool) -> MLFlowLogger:
    """The run's Lightning logger: the run ``mlflow run`` opened, else on ``--resume`` the run this work
    directory's training started, else a new run (recorded in the work directory)."""
    leader = _global_rank() == 0
    run_id = os.environ.get("MLFLOW_RUN_ID") or (resuming.recorded_run(work_dir) if resume else None)
    if leader:  # ranks > 0 leave MLflow alone (Lightning's logger is a no-op on them)
        tracking.ensure_experiment(cohort.meta.name)
    logger = MLFlowLogger(
        run_id=run_id,
        experiment_name=tracking.experiment_name(cohort.meta.name),
        tracking_uri=tracking.tracking_uri(),
        artifact_location=tracking.artifact_location(),
        run_name="train",
        tags={"oncofusion.stage": "train", "oncofusion.cohort": cohort.meta.name},
        log_model=False,
    )
    if not leader:
        return logger
    if run_id is None:
        logger.log_hyperparams(flat_params(params))
    else:
        resuming.check_run(logger.experiment, run_id, work_dir)
        resuming.log_params_once(logger.experiment, run_id, flat_params(params))
    resuming.record_run(work_dir, logger.run_id, tracking.tracking_uri())
    return logger


def _input_reference(result: TrainResult) -> dict[str, Any] | None:
    """The training split's input reference the served model measures drift against."""
    data = result.train_data
    if data is None:
        return None
    inputs = {m: v.cpu().numpy() for m, v in data.inputs.items()}
    return fit_reference(inputs, data.present.cpu().numpy(), result.net.names)


def _class_counts(cohort: Cohort, params: Params) -> list[int]:
    """Rows per class the model was fitted on (train, and val too when it was refitted on both)."""
    fitted_on = ("train", "val") if params.train.refit_on_train_val else ("train",)
    labels = cohort.labels.loc[cohort.labels["split"].isin(fitted_on), "label"]
    return [int(n) for n in labels.value_counts().reindex(cohort.classes, fill_value=0)]


def _outlier_reference(result: TrainResult) -> dict[str, Any] | None:
    """The per-sample outside-the-training-data check (models/outliers.py), from the training split."""
    data = result.train_data
    if data is None:
        return None
    inputs = {m: v.cpu().numpy() for m, v in data.inputs.items()}
    return fit_outliers(inputs, data.present.cpu().numpy(), result.net.names, result.net.preprocess)


def _variant_input(cohort: Cohort, params: Params) -> dict[str, Any] | None:
    """A variant cohort's build record (reference checksum and contigs, catalogue settings), carried
    by the model so serving and `oncofusion predict` featurise a new tumour as the cohort was."""
    from oncofusion.data.variants.spec import spec_from_cohort

    spec = spec_from_cohort(cohort.meta.provenance, params)
    return spec.model_dump() if spec is not None else None


def train_and_log(
    cohort: Cohort, params: Params, model_dir: Path, work_dir: Path, resume: bool = False
) -> dict[str, Any]:
    resolve_architecture(cohort, params)  # bad requests fail here, before an MLflow run exists
    logger = _open_logger(cohort, params, work_dir, resume)
    started = time.perf_counter()
    try:
        result = fit(cohort, params, work_dir, logger=logger, resume=resume, distributed=True)
    except BaseException:
        logger.finalize("FAILED")
        raise
    seconds = time.perf_counter() - started
    lead = result.members[0]
    if lead.global_rank != 0:  # DDP ranks > 0 trained in step with rank 0, which logs and writes
        return {
            "run_id": None,
            "rank": lead.global_rank,
            "epochs": result.epochs,
            "best_val_f1_macro": result.best_val_f1,
            "train_seconds": round(seconds, 2),
            "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        }

    schema = modality_schema(cohort, result.net.names)
    calibration = result.calibration.to_dict()
    info = {
        "run_id": logger.run_id,
        "experiment_id": logger.experiment_id,
        "epochs": result.epochs,
        "members": [
            {
                "index": m.index,
                "epochs": m.epochs,
                "best_score": m.best_score,
                "wide_features_kept": m.wide_start.kept if m.wide_start else None,
                "wide_features": m.wide_start.features if m.wide_start else None,
            }
            for m in result.members
        ],
        "best_val_f1_macro": result.best_val_f1,
        "deep_weight": result.deep_weight.as_record() if result.deep_weight else None,
        "calibration": calibration,
        "train_seconds": round(seconds, 2),
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        # DDP: the processes that trained, and each one's final weights hashed (they must agree).
        "world_size": lead.world_size,
        "rank_digests": lead.rank_digests,
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
            reference=_input_reference(result),
            variant_input=_variant_input(cohort, params),
            conformal_patterns=result.calibration.patterns,
            class_counts=_class_counts(cohort, params),
            outliers=_outlier_reference(result),
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
                    "deep_weight": float(result.net.members[0].deep_weight),
                    **_wide_screen_metrics(result.members),
                }
            )
            client = MlflowClient()
            _log_member_curves(client, logger.run_id, result)
            if resume and len(result.members) == 1:  # epochs cut between checkpoint and log
                resuming.backfill_epochs(client, logger.run_id, result.history)
            mlflow.log_artifact(str(staging / "training_curves.png"), artifact_path="figures")
            logged = registry.log_model(model, staging / BUNDLE, example)
        info["model_uri"] = logged.model_uri
        atomic.write_json(staging / INFO, info)
    return info


def train(
    params: Params,
    cohort_dir: Path,
    model_dir: Path,
    work_dir: Path,
    resume: bool = False,
    tuned: Path | None = None,
) -> dict[str, Any]:
    from oncofusion.training.tune import apply

    atomic.require_writable(model_dir, work_dir / "checkpoints")
    if tuned is not None:
        try:
            tuning = json.loads(tuned.read_text())
            best = tuning["params"]
        except (OSError, ValueError, KeyError) as error:
            raise CohortError(
                f"{tuned}: no usable tuning result ({error}); run the tune stage first"
            ) from None
        params = apply(params, best)
        if params.train.refit_on_train_val and tuning.get("epochs"):
            # The refit has no held-out data to stop on: it trains as long as the best trial did.
            refit = params.train.model_copy(update={"max_epochs": int(tuning["epochs"])})
            params = params.model_copy(update={"train": refit})
    return train_and_log(split_cohort(cohort_dir)[0], params, model_dir, work_dir, resume=resume)
