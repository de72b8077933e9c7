"""MLflow tracking: where runs go and which experiment they join.

Tracking URI: ``MLFLOW_TRACKING_URI`` when set (a tracking server, PostgreSQL-backed for teams), else a
SQLite file ``mlflow.db`` at the project root with artifacts in ``mlartifacts/``. One experiment per
cohort, so runs on different cohorts are never compared by accident. Kept apart from the registry so
that stages which only log runs (the DNA language model's) do not depend on the model stack.
"""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException


def tracking_uri(root: Path | None = None) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(root or Path.cwd()).resolve()}/mlflow.db"


def artifact_location(root: Path | None = None) -> str | None:
    """Where a new experiment keeps artifacts: ``mlartifacts/`` beside a local store; with a tracking
    server (http/https), None, so the server's own (served) artifact store is used, not a path that
    exists on this machine only."""
    if tracking_uri(root).startswith(("http://", "https://")):
        return None
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
    try:
        return mlflow.create_experiment(name, artifact_location=artifact_location(root))
    except MlflowException:  # a parallel worker created it first
        created = mlflow.get_experiment_by_name(name)
        if created is None:
            raise
        return created.experiment_id
