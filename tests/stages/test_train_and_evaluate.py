"""The train and evaluate stages against a real MLflow SQLite store in a temporary directory."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from oncofusion.config import parse_params
from oncofusion.evaluation.metrics import METRIC_KEYS
from oncofusion.models.bundle import load_bundle
from oncofusion.models.classifier import TrainingDiverged
from oncofusion.models.losses import FocalLoss
from oncofusion.stages.evaluate import evaluate_and_report
from oncofusion.stages.train import example_frame, train_and_log

from ..training.conftest import small_training_params


@pytest.fixture
def tracking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)  # artifacts go to <cwd>/mlartifacts
    return uri


def test_train_logs_run_and_model_then_evaluate_reports(
    split_cohort, train_params, tmp_path: Path, tracking: str
):
    info = train_and_log(split_cohort, train_params, tmp_path / "models", tmp_path / "work")
    client = MlflowClient(tracking)
    run = client.get_run(info["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.params["model.d_model"] == "16"
    assert run.data.tags["oncofusion.stage"] == "train"
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "oncofusion/tiny"
    history = client.get_metric_history(info["run_id"], "val/f1_macro")
    assert len(history) == info["epochs"]  # one point per epoch
    assert {"train/loss_focal", "train/loss_sparsity", "train/loss_pretrain"} <= set(run.data.metrics)

    # The logged pyfunc model answers like the bundle, with class names and modality schema attached.
    bundle = load_bundle(tmp_path / "models" / "model.pt")
    pyfunc = mlflow.pyfunc.load_model(info["model_uri"])
    assert pyfunc.metadata.metadata["classes"] == ["A", "B", "C"]
    assert pyfunc.metadata.signature is not None
    from oncofusion.training.data import cohort_tensors

    test = cohort_tensors(split_cohort, bundle.modalities, "test")
    frame = example_frame(test, bundle.schema, rows=len(test))
    served = pyfunc.predict(frame)
    direct = bundle.predict({k: v.numpy() for k, v in test.inputs.items()}, test.present.numpy())
    np.testing.assert_allclose(
        served[[f"p_{c}" for c in bundle.classes]].to_numpy(), direct["probabilities"], atol=1e-5
    )
    # A sample whose fragmentomics columns are all NaN is served with that modality masked.
    frame.loc[0, [c for c in frame.columns if c.startswith("fragmentomics/")]] = np.nan
    assert pyfunc.predict(frame).loc[0, "attention_fragmentomics"] == 0.0

    params = parse_params({**small_training_params(), "evaluate": {"ablations": False, "top_k": 5}})
    result = evaluate_and_report(split_cohort, params, tmp_path / "models", tmp_path / "reports", info)
    metrics = json.loads((tmp_path / "reports" / "metrics.json").read_text())
    assert set(metrics) >= {"test", "val", "classes", "n_train", "n_val", "n_test"}
    assert set(metrics["test"]) == set(METRIC_KEYS)
    assert metrics["n_train"] + metrics["n_val"] + metrics["n_test"] == 120
    assert (tmp_path / "reports" / "plots" / "confusion.csv").exists()
    assert len(list((tmp_path / "reports" / "plots" / "roc").glob("*.csv"))) == 3
    models = [r["model"] for r in result["ablations"]["rows"]]
    assert models == ["fusion_transformer", "logistic_regression", "gradient_boosting"]
    run = client.get_run(info["run_id"])
    assert run.data.metrics["test_f1_macro"] == pytest.approx(metrics["test"]["f1_macro"])
    artifacts = {a.path for a in client.list_artifacts(info["run_id"], "figures")}
    assert {"figures/confusion_matrix.png", "figures/roc.png", "figures/attention_per_class.png"} <= artifacts


def test_nan_loss_stops_training_and_logs_no_model(
    split_cohort, train_params, tmp_path: Path, tracking: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(FocalLoss, "forward", lambda self, logits, target: logits.sum() * float("nan"))
    with pytest.raises(TrainingDiverged, match="became nan at epoch 0"):
        train_and_log(split_cohort, train_params, tmp_path / "models", tmp_path / "work")
    assert not (tmp_path / "models").exists()
    client = MlflowClient(tracking)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert [r.info.status for r in runs] == ["FAILED"]
    assert client.search_logged_models([e.experiment_id for e in client.search_experiments()]) == []
