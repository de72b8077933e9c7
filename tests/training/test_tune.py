"""Optuna tuning against real SQLite storage and a real MLflow SQLite store, in a temp directory."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient
from optuna.storages import RetryHeartbeatStaleTrialCallback

from oncofusion.config import parse_params
from oncofusion.errors import ConfigError
from oncofusion.training.tune import run_study, summarise

from .conftest import small_training_params

SPACE = {
    "dropout": {"type": "float", "low": 0.0, "high": 0.3},
    "lr": {"type": "float", "low": 1e-5, "high": 1e-2, "log": True},
}


def tune_params(space: dict | None = None, **tune):
    raw = small_training_params()
    # Without the wide path's logistic-regression start every trial begins from chance, so trials differ
    # enough for the median pruner to have something to prune.
    raw["model"]["wide"] = False
    raw["tune"] = {
        "n_trials": 6,
        "max_epochs": 6,
        "pruner_warmup_epochs": 1,
        "search_space": space or SPACE,
        **tune,
    }
    return parse_params(raw)


@pytest.fixture
def tracking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MlflowClient:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("OPTUNA_STORAGE", raising=False)
    monkeypatch.chdir(tmp_path)
    return MlflowClient(uri)


def _children(client: MlflowClient, parent: str):
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(experiments, filter_string=f"tags.mlflow.parentRunId = '{parent}'")


def test_trials_are_nested_runs_and_some_are_pruned(split_cohort, tracking: MlflowClient, tmp_path: Path):
    result = run_study(split_cohort, tune_params())
    summary = summarise(result, tmp_path / "figures")
    children = _children(tracking, result.parent_run_id)
    assert len(children) == summary["n_trials"] == 6
    states = {r.data.tags["optuna.trial"]: r.data.tags["optuna.state"] for r in children}
    optuna_states = {str(t.number): t.state.name for t in result.study.trials}
    assert states == optuna_states
    assert summary["n_pruned"] >= 1  # the median pruner really stopped a poor trial
    pruned = [r for r in children if r.data.tags["optuna.state"] == "PRUNED"]
    assert all(r.info.status == "KILLED" for r in pruned)
    parent = tracking.get_run(result.parent_run_id)
    assert parent.data.tags["optuna.study"] == "oncofusion"
    assert parent.data.tags["optuna.storage"].startswith("sqlite:///")
    assert {f"best.{k}" for k in SPACE} <= set(parent.data.tags)
    assert parent.data.metrics["n_pruned"] == summary["n_pruned"]
    artifacts = {a.path for a in tracking.list_artifacts(result.parent_run_id, "figures")}
    assert "figures/optimization_history.png" in artifacts
    assert (tmp_path / "optuna.db").exists()  # the default storage


def test_the_objective_tells_two_configurations_apart(split_cohort, tracking: MlflowClient, tmp_path: Path):
    # With the wide path's logistic start (the default) the val macro-F1 of every sensible configuration
    # was the same number, so all trials tied. The val log-loss must differ between configurations, and
    # be the trial model's own log-loss, reported with the study's spread.
    raw = small_training_params()
    raw["tune"] = {"n_trials": 2, "max_epochs": 4, "pruner": "none", "search_space": SPACE}
    params = parse_params(raw)
    assert params.model.wide  # the setting under which F1 tied
    optuna.create_study(study_name="oncofusion", storage=f"sqlite:///{tmp_path}/optuna.db")
    study = optuna.load_study(study_name="oncofusion", storage=f"sqlite:///{tmp_path}/optuna.db")
    study.enqueue_trial({"dropout": 0.0, "lr": 1e-4})
    study.enqueue_trial({"dropout": 0.3, "lr": 1e-2})
    result = run_study(split_cohort, params)
    summary = summarise(result, tmp_path / "figures")
    values = [t.value for t in result.study.trials]
    assert len(values) == 2 and values[0] != values[1]
    assert all(0.0 < v < 5.0 for v in values)  # log-losses, not F1 scores of 1.0
    assert summary["spread"]["n_distinct"] == 2
    assert summary["spread"]["min"] == min(values) == summary["best_value"]  # lower is better
    assert summary["spread"]["max"] == max(values)
    assert 0.0 <= summary["best_val_f1_macro"] <= 1.0
    child = tracking.get_run(summary["best_mlflow_run_id"])
    assert child.data.metrics["val_nll"] == summary["best_value"]


def test_a_study_that_maximised_an_older_objective_is_refused(
    split_cohort, tracking: MlflowClient, tmp_path: Path
):
    optuna.create_study(
        study_name="oncofusion", storage=f"sqlite:///{tmp_path}/optuna.db", direction="maximize"
    )
    with pytest.raises(ConfigError, match="minimises the validation log-loss"):
        run_study(split_cohort, tune_params(n_trials=1))


def test_a_failing_trial_is_recorded_and_the_study_goes_on(split_cohort, tracking: MlflowClient):
    # d_model 16 is not divisible by 3 heads: those trials raise; the others complete.
    space = {"n_heads": {"type": "categorical", "choices": [2, 3]}}
    result = run_study(split_cohort, tune_params(space, n_trials=6, pruner="none"))
    states = {t.state for t in result.study.trials}
    assert optuna.trial.TrialState.FAIL in states and optuna.trial.TrialState.COMPLETE in states
    failed = [r for r in _children(tracking, result.parent_run_id) if r.data.tags["optuna.state"] == "FAIL"]
    assert failed and all(r.info.status == "FAILED" for r in failed)
    assert "divisible by n_heads" in failed[0].data.tags["optuna.error"]


def test_a_study_over_another_search_space_is_refused_before_any_trial(split_cohort, tracking: MlflowClient):
    run_study(split_cohort, tune_params(n_trials=1))
    other = {"dropout": {"type": "float", "low": 0.0, "high": 0.5}}
    with pytest.raises(ConfigError, match="different search space"):
        run_study(split_cohort, tune_params(other, n_trials=1))
    study = optuna.load_study(study_name="oncofusion", storage=f"sqlite:///{Path.cwd()}/optuna.db")
    assert len(study.trials) == 1


def test_unreachable_storage_is_a_clear_error_with_the_password_hidden(split_cohort, tracking: MlflowClient):
    params = tune_params(storage="postgresql+psycopg://user:s3cret@127.0.0.1:9/nowhere")
    with pytest.raises(ConfigError) as caught:
        run_study(split_cohort, params)
    message = str(caught.value)
    assert "cannot open Optuna storage" in message and "127.0.0.1:9" in message
    assert "s3cret" not in message
    assert tracking.search_runs([e.experiment_id for e in tracking.search_experiments()]) == []


@pytest.mark.parametrize(
    ("space", "words"),
    [
        (
            {"lr": {"type": "float", "low": 0.1, "high": 0.01}},
            "tune.search_space.lr: low (0.1) is greater than high",
        ),
        (
            {"learning_rate": {"type": "float", "low": 0.1, "high": 0.2}},
            "unknown search_space parameter(s) ['learning_rate']",
        ),
        ({"lr": {"type": "float", "low": 0.0, "high": 0.1, "log": True}}, "log-scaled range needs low > 0"),
    ],
)
def test_bad_search_spaces_fail_in_the_config(space, words):
    with pytest.raises(ConfigError) as caught:
        tune_params(space)
    assert words in str(caught.value)


def test_a_killed_workers_trial_is_failed_and_retried(split_cohort, tracking: MlflowClient, tmp_path: Path):
    import signal
    import subprocess
    import sys
    import time

    import yaml

    import oncofusion.stages.cohort
    import oncofusion.stages.split
    import oncofusion.stages.validate  # noqa: F401
    from oncofusion import stages

    # A real split cohort on disk, since the worker is a separate `oncofusion tune` process.
    params = tune_params(n_trials=1, max_epochs=3000, heartbeat_s=1, pruner="none")
    # Long enough to be killed mid-trial: no early stop.
    params = params.model_copy(
        update={"train": params.train.model_copy(update={"early_stopping_patience": 5000})}
    )
    stages.cohort.build_cohort(params, tmp_path / "cohort")
    stages.validate.validate(params, tmp_path / "cohort", tmp_path / "validation")
    stages.split.split(
        params, tmp_path / "cohort", tmp_path / "validation", tmp_path / "splits", tmp_path / "s.json"
    )
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params.model_dump(mode="json", by_alias=True)))
    storage = f"sqlite:///{tmp_path}/shared.db"
    command = [
        sys.executable,
        "-m",
        "oncofusion.cli",
        "tune",
        "--params",
        "params.yaml",
        "--cohort",
        "splits",
    ]
    command += ["--study", "crash", "--storage", storage]
    worker = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                trials = optuna.load_study(study_name="crash", storage=storage).get_trials(deepcopy=False)
            except KeyError:  # study not created yet
                trials = []
            if any(t.state == optuna.trial.TrialState.RUNNING for t in trials):
                break
            time.sleep(0.5)
        else:
            pytest.fail("the worker never started a trial")
        time.sleep(1.5)  # let it beat at least once
        worker.send_signal(signal.SIGKILL)
    finally:
        worker.wait(timeout=30)
    time.sleep(3.5)  # past the grace period (3 heartbeats)

    quick = tune_params(n_trials=1, max_epochs=3, heartbeat_s=1, pruner="none")
    result = run_study(split_cohort, quick, study_name="crash", storage=storage)
    trials = result.study.get_trials(deepcopy=False)
    assert trials[0].state == optuna.trial.TrialState.FAIL  # the killed worker's trial
    retried = [
        t for t in trials if RetryHeartbeatStaleTrialCallback.retried_trial_number(t) == trials[0].number
    ]
    assert retried and retried[0].params == trials[0].params  # re-queued with the same params
    assert not [t for t in trials if t.state == optuna.trial.TrialState.RUNNING]
    killed_run = tracking.get_run(trials[0].user_attrs["mlflow_run_id"])
    assert killed_run.info.status == "FAILED" and killed_run.data.tags["optuna.state"] == "FAIL"
