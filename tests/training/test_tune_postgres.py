"""Scale-out for real: a PostgreSQL server on loopback, two `oncofusion tune` workers on one study.

Skips when the PostgreSQL server binaries are absent; `.ci/run` installs Debian's postgresql so it runs in CI.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import optuna
import psycopg
import pytest
import yaml
from mlflow.tracking import MlflowClient

from oncofusion import registry, stages
from oncofusion.config import parse_params

from .conftest import small_training_params

pytestmark = pytest.mark.slow


def _postgres_bin() -> Path | None:
    found = shutil.which("initdb")
    candidates = [found] if found else sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(os.path.realpath(candidates[-1])).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres() -> Iterator[str]:
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) not installed; "
            "`.ci/run` installs Debian's postgresql"
        )
    run_as: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="oncofusion-pg-", dir="/tmp"))
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server as")
        os.chown(base, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    data = base / "data"
    subprocess.run(
        [*run_as, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1"
    subprocess.run(
        [
            *run_as,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(base / "log"),
            "-w",
            "-o",
            options,
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        with psycopg.connect(
            f"host=127.0.0.1 port={port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute("CREATE DATABASE optuna")
            conn.execute("CREATE DATABASE mlflow")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(base, ignore_errors=True)


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
    params = parse_params(raw)
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(params.model_dump(mode="json", by_alias=True)))
    stages.build_cohort(params, tmp_path / "cohort")
    stages.validate(params, tmp_path / "cohort", tmp_path / "validation")
    stages.split(
        params, tmp_path / "cohort", tmp_path / "validation", tmp_path / "splits", tmp_path / "split.json"
    )

    tracking, storage = f"{postgres}/mlflow", f"{postgres}/optuna"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking)
    monkeypatch.chdir(tmp_path)
    registry.ensure_experiment("tiny")  # migrate MLflow's schema once, not in both workers at the same time

    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking, "PYTHONUNBUFFERED": "1"}
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
    client = MlflowClient(tracking)
    experiments = [e.experiment_id for e in client.search_experiments()]
    children = client.search_runs(experiments, filter_string=f"tags.mlflow.parentRunId = '{parents.pop()}'")
    assert len(children) == 4
