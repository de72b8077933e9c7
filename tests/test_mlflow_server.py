"""A team's tracking setup, for real: `mlflow server` on a PostgreSQL backend store, serving artifacts,
on loopback; the CLI stages train → evaluate → register → bento talk to it only through
MLFLOW_TRACKING_URI=http://…

Skips without PostgreSQL on a workstation and fails under CI=true (tests/postgres.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from mlflow.tracking import MlflowClient

from oncofusion.config import parse_params

from . import postgres as pg
from .conftest import REPO_ROOT
from .postgres import free_port, running_postgres
from .training.conftest import small_training_params
from .training.test_resume import prepare


def _outcome_without_postgresql() -> type[BaseException] | None:
    try:
        with running_postgres(["mlflow"]):
            return None
    except (pytest.skip.Exception, pytest.fail.Exception) as outcome:
        return type(outcome)


def test_missing_postgresql_skips_on_a_workstation_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(pg, "postgres_bin", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    assert _outcome_without_postgresql() is pytest.skip.Exception
    monkeypatch.setenv("CI", "true")
    assert _outcome_without_postgresql() is pytest.fail.Exception


@pytest.fixture
def tracking_server(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """(server URL, backend store URL, the server's artifact directory)."""
    with running_postgres(["mlflow"]) as postgres:
        backend = f"{postgres}/mlflow"
        artifacts = tmp_path / "server-artifacts"
        port = free_port()
        log = (tmp_path / "mlflow-server.log").open("w")
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "mlflow"),
                "server",
                "--backend-store-uri",
                backend,
                "--serve-artifacts",
                "--artifacts-destination",
                artifacts.as_uri(),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180
            while True:
                assert server.poll() is None, (tmp_path / "mlflow-server.log").read_text()[-4000:]
                try:
                    if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "mlflow server did not answer /health in 180 s"
                time.sleep(0.5)
            yield url, backend, artifacts
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _stage(project: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "oncofusion.cli", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"{args[0]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.mark.slow
def test_train_register_bento_through_a_postgresql_tracking_server(
    tracking_server: tuple[str, str, Path], tmp_path: Path
):
    url, backend, server_artifacts = tracking_server
    raw = small_training_params(max_epochs=3)
    raw["evaluate"] = {"baselines": False, "ablations": False, "top_k": 3, "bootstrap": 100}
    params = parse_params(raw)
    params_file, splits = prepare(tmp_path, raw)
    project = tmp_path / "project"  # what `bentoml build` reads: bentofile.yaml, serving/, src/
    project.mkdir()
    shutil.copy2(REPO_ROOT / "bentofile.yaml", project / "bentofile.yaml")
    for folder in ("serving", "src"):
        shutil.copytree(
            REPO_ROOT / folder, project / folder, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
        )
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": url,
        "BENTOML_HOME": str(tmp_path / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "True",
        "GX_ANALYTICS_ENABLED": "false",
    }
    p, models, reports = str(params_file), str(tmp_path / "models"), tmp_path / "reports"
    _stage(project, env, "train", "-p", p, "--cohort", str(splits), "--out", models, "--work", "work")
    evaluate = ["evaluate", "-p", p, "--cohort", str(splits), "--model", models, "--reports", str(reports)]
    _stage(project, env, *evaluate)
    _stage(
        project,
        env,
        "register",
        "-p",
        p,
        "--model",
        models,
        "--metrics",
        str(reports / "metrics.json"),
        "--out",
        str(reports / "registry.json"),
        "--cohort",
        str(splits),
    )
    _stage(project, env, "bento", "-p", p, "--out", str(reports / "bento.json"))

    # The registry on the server holds the champion: the model this train run logged.
    info = json.loads((tmp_path / "models" / "train.json").read_text())
    client = MlflowClient(url)
    name = params.registration.model_name
    champion = client.get_model_version_by_alias(name, params.registration.alias)
    assert champion.run_id == info["run_id"]
    assert json.loads((reports / "registry.json").read_text())["promoted"] is True
    # Runs and registry live in PostgreSQL; artifacts went through the server to its own store, and
    # nothing was written to a local MLflow store.
    with psycopg.connect(backend.replace("postgresql+psycopg", "postgresql")) as conn:
        runs = conn.execute("SELECT count(*) FROM runs WHERE run_uuid = %s", [info["run_id"]]).fetchone()
        versions = conn.execute("SELECT count(*) FROM model_versions WHERE name = %s", [name]).fetchone()
    assert (runs, versions) == ((1,), (1,))
    assert list(server_artifacts.rglob("MLmodel")), "no model artifacts in the server's artifact store"
    assert not (project / "mlartifacts").exists() and not (project / "mlflow.db").exists()

    # The bento was built around the champion fetched from the server.
    bento = json.loads((reports / "bento.json").read_text())
    assert bento["registry_version"] == champion.version
    bento_name, bento_version = bento["bento"].split(":")
    assert (tmp_path / "bentoml" / "bentos" / bento_name / bento_version / "bento.yaml").exists()
