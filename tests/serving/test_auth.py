"""With ONCOFUSION_API_TOKEN set the multi-omics service answers only requests carrying it (probes
excepted), processes nothing it refuses, and keeps sample IDs out of its log."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from oncofusion.training.data import cohort_tensors

from .conftest import Store, free_port, start_server, stop, wait_ready
from .metrics import scrape, value

pytestmark = pytest.mark.slow

TOKEN = "multi-omics-token-0123456789abcdef"


def test_a_token_guards_every_route_but_the_probes(champion_store: Store, tmp_path: Path):
    from oncofusion.models.bundle import load_bundle

    model = load_bundle(champion_store.bundles["2"])
    test = cohort_tensors(champion_store.cohort, model.modalities, "test")
    secret = "PATIENT-SECRET-777"
    sample = {"sample_id": secret, "modalities": {m: test.inputs[m][0].tolist() for m in model.modalities}}
    env = {**champion_store.env, "ONCOFUSION_API_TOKEN": TOKEN}
    port, log = free_port(), tmp_path / "server.log"
    server = start_server(env, log, port)
    url = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        wait_ready(server, url, log)
        refused = httpx.post(f"{url}/classify", json={"samples": [sample]}, timeout=30)
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
        for path in ("/metadata", "/metrics", "/docs.json"):
            assert httpx.get(f"{url}{path}", timeout=10).status_code == 401, path
        modality = model.modalities[0]
        counted = {"modality": modality, "status": "present"}
        assert value(scrape(url, headers=auth), "oncofusion_input_samples_total", **counted) == 0
        answered = httpx.post(f"{url}/classify", json={"samples": [sample]}, headers=auth, timeout=30)
        assert answered.status_code == 200 and answered.json()[0]["sample_id"] == secret
        assert value(scrape(url, headers=auth), "oncofusion_input_samples_total", **counted) == 1
    finally:
        stop(server)
    assert secret not in log.read_text()
    assert "refused POST /classify: no token" in log.read_text()


def test_without_a_token_it_will_not_listen_beyond_loopback(champion_store: Store, tmp_path: Path):
    env = {k: v for k, v in champion_store.env.items() if k != "ONCOFUSION_API_TOKEN"}
    log = tmp_path / "server.log"
    import subprocess
    import sys

    from ..conftest import REPO_ROOT

    with log.open("w") as out:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "bentoml",
                "serve",
                "serving.service:OncofusionClassifier",
                "--host",
                "0.0.0.0",
                "--port",
                str(free_port()),
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=120,
        )
    assert done.returncode != 0
    assert "without an API token the service only binds to loopback" in log.read_text()
