"""Scale-out for real: a PostgreSQL server on loopback, two `oncofusion tune` workers on one study.

Skips when the PostgreSQL server binaries are absent, and fails under CI=true, where `.ci/run` installs
Debian's postgresql (tests/postgres.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
import yaml
from mlflow.tracking import MlflowClient

from oncofusion import tracking

from ..postgres import running_postgres
from .conftest import prepare_split_cohort, small_training_params

pytestmark = pytest.mark.slow


@pytest.fixture
def postgres() -> Iterator[str]:
    with running_postgres(["optuna", "mlflow"]) as url:
        yield url


def test_two_workers_share_one_study_and_lose_no_trial(
    postgres: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    raw = small_training_params()
    raw["tune"] = {
        "study": "shared",
        "n_trials": 2,
        "max_epochs": 4,
        "pruner_warmup_epochs": 1,
        "heartbeat_s": 2,
        "search_space": {
            "dropout": {"type": "float", "low": 0.0, "high": 0.3},
            "lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
        },
    }
    params_file, _ = prepare_split_cohort(tmp_path, raw)

    tracking_uri, storage = f"{postgres}/mlflow", f"{postgres}/optuna"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    monkeypatch.chdir(tmp_path)
    tracking.ensure_experiment("tiny")  # migrate MLflow's schema once, not in both workers at the same time

    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "PYTHONUNBUFFERED": "1"}
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "oncofusion.cli",
                "tune",
                "--params",
                str(params_file),
                "--cohort",
                str(tmp_path / "splits"),
                "--out",
                str(tmp_path / f"worker{seed}"),
                "--study",
                "shared",
                "--storage",
                storage,
                "--seed",
                str(seed),
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for seed in (1, 2)
    ]
    outputs = [w.communicate(timeout=300)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], "\n".join(outputs)

    study = optuna.load_study(study_name="shared", storage=storage)
    trials = study.get_trials(deepcopy=False)
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]  # both workers' trials, none lost
    assert {t.state for t in trials} <= {optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED}
    assert len({t.user_attrs["mlflow_run_id"] for t in trials}) == 4

    parents = {
        yaml.safe_load((tmp_path / f"worker{s}" / "best_params.json").read_text())["parent_run_id"]
        for s in (1, 2)
    }
    assert len(parents) == 1  # one MLflow parent run for the study, shared by the workers
    client = MlflowClient(tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    children = client.search_runs(experiments, filter_string=f"tags.mlflow.parentRunId = '{parents.pop()}'")
    assert len(children) == 4
