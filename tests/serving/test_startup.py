"""A missing or damaged model in the BentoML store stops `bentoml serve` at start, naming the model;
it never becomes ready and fails at the first request instead."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time

import httpx
import pytest

from ..conftest import REPO_ROOT
from .conftest import Store, copy_store, free_port

pytestmark = pytest.mark.slow

SERVE = [sys.executable, "-m", "bentoml", "serve", "serving.service:OncofusionClassifier"]


@pytest.mark.parametrize("damage", ["truncated_weights", "missing_weights", "missing_model"])
def test_a_damaged_model_stops_the_server_at_start(champion_store: Store, tmp_path, damage: str):
    env = copy_store(champion_store, tmp_path)
    tag = champion_store.bento_model
    env["ONCOFUSION_BENTO_MODEL"] = tag
    name, version = tag.split(":")
    model_dir = tmp_path / "bentoml" / "models" / name / version
    weights = model_dir / "mlflow_model" / "artifacts" / "model.pt"
    if damage == "truncated_weights":
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    elif damage == "missing_weights":
        weights.unlink()
    else:
        shutil.rmtree(model_dir)
    port = free_port()
    with (tmp_path / "stdout.log").open("w") as out, (tmp_path / "stderr.log").open("w") as err:
        server = subprocess.Popen(
            [*SERVE, "--port", str(port), "--host", "127.0.0.1"],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=err,
        )
        ready = False
        deadline = time.monotonic() + 120
        try:
            while server.poll() is None and time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError):
                    response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                    ready = ready or response.status_code == 200
                time.sleep(0.5)
        finally:
            if server.poll() is None:
                server.kill()
                server.wait(timeout=20)
    stderr = (tmp_path / "stderr.log").read_text()
    assert server.returncode not in (None, 0), f"still running or exited 0:\n{stderr[-2000:]}"
    assert not ready, "the server became ready with a damaged model"
    assert f"cannot serve model {tag}" in stderr, stderr[-2000:]
