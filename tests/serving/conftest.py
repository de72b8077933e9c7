"""A real BentoML store with a registry champion, and `bentoml serve` of the service on loopback.

Three models are trained and registered; the alias `@champion` sits on version 2, which is neither the
first nor the latest, so a service that served `latest` or version 1 would answer with another
model's probabilities and version.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from oncofusion.cohort import Cohort
from oncofusion.config import parse_params
from oncofusion.data.split import stratified_split
from oncofusion.data.synthetic.omics.cohort import generate_cohort
from oncofusion.models.bundle import LoadedModel, load_bundle
from oncofusion.training.data import CohortTensors, cohort_tensors

from ..conftest import REPO_ROOT
from ..training.conftest import small_training_params

# The champion is a two-member cross-validated ensemble with temperature and conformal sets; the
# other versions are single models trained from other seeds (so their answers differ).
# Calls for a target class mix that reverses the training one (0.5, 0.3, 0.2), so a service that
# reported the most probable class instead would answer differently.
TARGET_MIX = {"A": 0.1, "B": 0.3, "C": 0.6}
SERVED_PARAMS = small_training_params(
    ensemble={"folds": 2, "workers": 1}, calibration={"decision": "target", "target_mix": TARGET_MIX}
)
OTHER_PARAMS = {
    v: {**small_training_params(max_epochs=2), "base": {"seed": seed}} for v, seed in (("1", 101), ("3", 303))
}
CHAMPION_VERSION = "2"
MODEL_NAME = "oncofusion-classifier"


@dataclass
class Store:
    root: Path
    env: dict[str, str]  # MLFLOW_TRACKING_URI and BENTOML_HOME of this store
    cohort: Cohort
    bundles: dict[str, Path]  # registry version → its model file
    bento_model: str  # the champion's tag in the BentoML store


@dataclass
class Served:
    url: str
    model: LoadedModel
    test: CohortTensors
    registry_version: str
    root: Path
    env: dict[str, str]
    store: Store
    log: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def store_env(root: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{root}/mlflow.db",
        "BENTOML_HOME": str(root / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "True",
    }


@pytest.fixture(scope="session")
def champion_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    root = tmp_path_factory.mktemp("serving")
    env = store_env(root)
    params = parse_params(SERVED_PARAMS)
    cohort = generate_cohort(params.synthesize, seed=params.base.seed, name="tiny")
    cohort = cohort.with_split(stratified_split(cohort.labels, params.split, seed=0))
    cohort.save(root / "splits")
    runs = {"1": OTHER_PARAMS["1"], CHAMPION_VERSION: SERVED_PARAMS, "3": OTHER_PARAMS["3"]}
    # Train, register and import in a child process, so this test process's MLflow and BentoML
    # settings stay untouched. The alias is set directly: promotion rules are tests/training's subject.
    script = f"""
import json
from pathlib import Path
import mlflow
from mlflow.tracking import MlflowClient
from oncofusion.cohort import Cohort
from oncofusion.config import parse_params
from oncofusion import tracking
from oncofusion.stages.train import train_and_log
from oncofusion.serving.store import import_champion
runs = json.loads({json.dumps(json.dumps(runs))})
cohort = Cohort.load(Path({str(root / "splits")!r}))
root = Path({str(root)!r})
tracking.use_tracking()
for version, raw in runs.items():
    info = train_and_log(cohort, parse_params(raw), root / f"models-{{version}}", root / f"work-{{version}}")
    registered = mlflow.register_model(info["model_uri"], {MODEL_NAME!r})
    assert str(registered.version) == version, (registered.version, version)
MlflowClient().set_registered_model_alias({MODEL_NAME!r}, "champion", {CHAMPION_VERSION!r})
print("BENTO_MODEL", import_champion({MODEL_NAME!r}, "champion").tag)
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    tag = re.search(r"BENTO_MODEL (\S+)", done.stdout).group(1)  # type: ignore[union-attr]
    bundles = {v: root / f"models-{v}" / "model.pt" for v in runs}
    return Store(root, env, cohort, bundles, tag)


def start_server(env: dict[str, str], log: Path, port: int) -> subprocess.Popen:
    """`bentoml serve` of the service source; output to a file (an unread pipe would block it)."""
    with log.open("w") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bentoml",
                "serve",
                "serving.service:OncofusionClassifier",
                "--port",
                str(port),
                "--host",
                "127.0.0.1",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_ready(server: subprocess.Popen, url: str, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if server.poll() is not None:
            raise RuntimeError(f"bentoml serve exited:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    raise RuntimeError(f"bentoml serve did not become ready in {timeout} s:\n{log.read_text()[-3000:]}")


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=20)


def copy_store(store: Store, root: Path) -> dict[str, str]:
    """A copy of the store's BentoML home (to damage without touching the shared one); its env."""
    shutil.copytree(store.root / "bentoml", root / "bentoml", symlinks=True)
    env = store_env(root)
    env["MLFLOW_TRACKING_URI"] = store.env["MLFLOW_TRACKING_URI"]
    return env


@pytest.fixture(scope="session")
def served(champion_store: Store) -> Iterator[Served]:
    """One server for the serving tests (starting one costs ~15 s on 2 cores)."""
    root = champion_store.root
    port, log = free_port(), root / "server.log"
    server = start_server(champion_store.env, log, port)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(server, url, log)
        model = load_bundle(champion_store.bundles[CHAMPION_VERSION])
        test = cohort_tensors(champion_store.cohort, model.modalities, "test")
        yield Served(url, model, test, CHAMPION_VERSION, root, champion_store.env, champion_store, log)
    finally:
        stop(server)
