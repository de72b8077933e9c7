"""Data-parallel training: `oncofusion train` on two CPU processes (Lightning DDP, gloo backend)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from oncofusion.config import parse_params
from oncofusion.errors import ConfigError

from .conftest import prepare_split_cohort, small_training_params, train_command


def test_ddp_needs_one_model():
    with pytest.raises(
        ConfigError, match=r"train: devices \(2\) × num_nodes \(1\) > 1 .* set ensemble.folds to 1"
    ):
        parse_params(small_training_params(devices=2, ensemble={"folds": 3}))
    with pytest.raises(ConfigError, match=r"num_nodes \(2\)"):
        parse_params(small_training_params(num_nodes=2, ensemble={"folds": 2}))
    assert parse_params(small_training_params(devices=2, strategy="ddp")).train.devices == 2


@pytest.mark.slow
def test_two_cpu_processes_train_one_model_in_one_run(tmp_path: Path):
    raw = small_training_params(
        max_epochs=10, pretrain_epochs=1, accelerator="cpu", devices=2, strategy="ddp", batch_size=16
    )
    params_file, splits = prepare_split_cohort(tmp_path, raw)
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db", "PYTHONUNBUFFERED": "1"}
    done = subprocess.run(
        train_command(params_file, splits, tmp_path / "model", tmp_path / "work"),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    info = json.loads((tmp_path / "model" / "train.json").read_text())
    assert info["world_size"] == 2
    # Both ranks ended with bit-identical weights (parameters and BatchNorm statistics).
    assert len(info["rank_digests"]) == 2 and len(set(info["rank_digests"])) == 1
    # Rank 0 alone logged: one run in the store, holding the model and the curves.
    client = MlflowClient(env["MLFLOW_TRACKING_URI"])
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert [r.info.run_id for r in runs] == [info["run_id"]]
    run = runs[0]
    assert run.info.status == "FINISHED"
    assert run.data.params["train.devices"] == "2"
    assert len(client.get_metric_history(run.info.run_id, "val/nll")) == info["epochs"]
    # A sane model: three classes (chance about 0.33).
    assert info["best_val_f1_macro"] > 0.6
