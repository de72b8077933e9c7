"""MLflow experiments open on their training runs, not on MLflow 3's GenAI overview."""

from __future__ import annotations

import mlflow

from oncofusion import tracking


def test_a_new_and_an_old_experiment_are_marked_as_model_development(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    created = tracking.ensure_experiment("fresh", root=tmp_path)
    assert mlflow.get_experiment(created).tags["mlflow.experimentKind"] == "custom_model_development"

    old = mlflow.create_experiment(tracking.experiment_name("old"))  # made before the tag existed
    assert "mlflow.experimentKind" not in mlflow.get_experiment(old).tags
    assert tracking.ensure_experiment("old", root=tmp_path) == old
    assert mlflow.get_experiment(old).tags["mlflow.experimentKind"] == "custom_model_development"


def test_the_runs_link_opens_the_runs_table():
    url = tracking.runs_url("http://127.0.0.1:5000/", "7")
    assert url == "http://127.0.0.1:5000/#/experiments/7/runs?workflowType=machine_learning"
