"""MLflow tracking: where runs go and which experiment they join.

Tracking URI: ``MLFLOW_TRACKING_URI`` when set (a tracking server, PostgreSQL-backed for teams), else a
SQLite file ``mlflow.db`` at the project root with artifacts in ``mlartifacts/``. One experiment per
cohort, so runs on different cohorts are never compared by accident. Kept apart from the registry so
that stages which only log runs (the DNA language model's) do not depend on the model stack.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException

# Set by `oncofusion fit` while it runs (and inherited by its worker processes): the local store then
# sits beside the run's outputs instead of in whatever directory the command was started from.
ROOT_VARIABLE = "ONCOFUSION_TRACKING_ROOT"


def _root(root: Path | None) -> Path:
    return (root or Path(os.environ.get(ROOT_VARIABLE) or Path.cwd())).resolve()


def tracking_uri(root: Path | None = None) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{_root(root)}/mlflow.db"


@contextmanager
def local_store(directory: Path) -> Iterator[str]:
    """Runs inside go to ``directory/mlflow.db`` (artifacts in ``directory/mlartifacts``) unless
    ``MLFLOW_TRACKING_URI`` names a store; yields the URI used."""
    previous = os.environ.get(ROOT_VARIABLE)
    os.environ[ROOT_VARIABLE] = str(Path(directory).resolve())
    try:
        yield tracking_uri()
    finally:
        if previous is None:
            os.environ.pop(ROOT_VARIABLE, None)
        else:
            os.environ[ROOT_VARIABLE] = previous


def artifact_location(root: Path | None = None) -> str | None:
    """Where a new experiment keeps artifacts: ``mlartifacts/`` beside a local store; with a tracking
    server (http/https), None, so the server's own (served) artifact store is used, not a path that
    exists on this machine only."""
    if tracking_uri(root).startswith(("http://", "https://")):
        return None
    return (_root(root) / "mlartifacts").as_uri()


def experiment_name(cohort_name: str) -> str:
    return f"oncofusion/{cohort_name}"


def use_tracking(root: Path | None = None) -> str:
    uri = tracking_uri(root)
    mlflow.set_tracking_uri(uri)
    return uri


# MLflow 3 treats an experiment without this tag as a GenAI one and opens it on traces; this marks it as
# model development (the UI's "Machine learning"). UIs that decide from the sidebar's "Model training"
# switch instead open on runs through runs_url().
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}


def runs_url(ui: str, experiment_id: str) -> str:
    """The MLflow UI page of an experiment's training runs (not its GenAI overview)."""
    return f"{ui.rstrip('/')}/#/experiments/{experiment_id}/runs?workflowType=machine_learning"


def ensure_experiment(cohort_name: str, root: Path | None = None) -> str:
    """Create the cohort's experiment (artifacts under mlartifacts/) or return the existing one, marked
    as a model-development experiment either way."""
    use_tracking(root)
    name = experiment_name(cohort_name)
    existing = mlflow.get_experiment_by_name(name)
    if existing is not None:
        if existing.tags.get("mlflow.experimentKind") is None:
            mlflow.MlflowClient().set_experiment_tag(
                existing.experiment_id, *next(iter(EXPERIMENT_KIND.items()))
            )
        return existing.experiment_id
    try:
        return mlflow.create_experiment(name, artifact_location=artifact_location(root), tags=EXPERIMENT_KIND)
    except MlflowException:  # a parallel worker created it first
        created = mlflow.get_experiment_by_name(name)
        if created is None:
            raise
        return created.experiment_id
