"""MLflow: where runs go, and how a trained model is logged.

Tracking URI: ``MLFLOW_TRACKING_URI`` when set (a tracking server, PostgreSQL-backed for teams), else a
SQLite file ``mlflow.db`` at the project root with artifacts in ``mlartifacts/``. One experiment per
cohort, so runs on different cohorts are never compared by accident.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

from oncofusion.models.bundle import LoadedModel

MODEL_NAME = "oncofusion-classifier"


def tracking_uri(root: Path | None = None) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(root or Path.cwd()).resolve()}/mlflow.db"


def artifact_location(root: Path | None = None) -> str:
    return ((root or Path.cwd()).resolve() / "mlartifacts").as_uri()


def experiment_name(cohort_name: str) -> str:
    return f"oncofusion/{cohort_name}"


def use_tracking(root: Path | None = None) -> str:
    uri = tracking_uri(root)
    mlflow.set_tracking_uri(uri)
    return uri


def ensure_experiment(cohort_name: str, root: Path | None = None) -> str:
    """Create the cohort's experiment (artifacts under mlartifacts/) or return the existing one."""
    use_tracking(root)
    name = experiment_name(cohort_name)
    existing = mlflow.get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    return mlflow.create_experiment(name, artifact_location=artifact_location(root))


def log_model(model: LoadedModel, bundle_path: Path, example: pd.DataFrame) -> Any:
    """Log the bundle as a pyfunc model, with signature, input example, classes and modality schema."""
    from mlflow.models import infer_signature

    import oncofusion
    from oncofusion.models.pyfunc import OncofusionModel, outputs_frame

    inputs = {
        m: example[[f"{m}/{f}" for f in model.schema[m]["features"]]].to_numpy() for m in model.modalities
    }
    present = pd.DataFrame({m: ~pd.isna(inputs[m]).all(axis=1) for m in model.modalities}).to_numpy()
    prediction = outputs_frame(model.predict(inputs, present), model.classes, model.modalities)
    package_dir = Path(oncofusion.__file__).parent
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=OncofusionModel(),
        artifacts={"bundle": str(bundle_path)},
        code_paths=[str(package_dir)],
        signature=infer_signature(example, prediction),
        input_example=example,
        pip_requirements=_requirements(),
        metadata={"classes": model.classes, "modality_schema": model.schema},
    )


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{p}=={version(p).split('+')[0]}" for p in ("mlflow", "torch", "numpy", "pandas", "pydantic")]
