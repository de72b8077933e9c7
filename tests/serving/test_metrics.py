"""BentoML's Prometheus `/metrics`: its request metrics, and the service's per-modality input
monitoring (presence counts, drift against the training reference stored in the model)."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
import torch

from oncofusion.serving.monitoring import DRIFT_WINDOW
from oncofusion.training.data import cohort_tensors

from .conftest import Served, Store, copy_store, free_port, start_server, stop, wait_ready
from .metrics import scrape, value

pytestmark = pytest.mark.slow

PSI = "oncofusion_input_drift_psi"
PRESENCE = "oncofusion_input_samples_total"


def _classify(url: str, samples: list[dict]) -> None:
    for start in range(0, len(samples), 100):
        response = httpx.post(f"{url}/classify", json={"samples": samples[start : start + 100]}, timeout=60)
        assert response.status_code == 200, response.text[:300]


def _held_out(served: Served) -> list[dict]:
    """Every val and test sample (not the training split the reference was fitted on)."""
    rows = []
    for split in ("val", "test"):
        data = cohort_tensors(served.store.cohort, served.model.modalities, split)
        for i, sample_id in enumerate(data.sample_ids):
            rows.append(
                {
                    "sample_id": sample_id,
                    "modalities": {m: data.inputs[m][i].tolist() for m in served.model.modalities},
                }
            )
    return rows


def test_metrics_endpoint_counts_requests(served: Served):
    before = scrape(served.url)
    _classify(served.url, _held_out(served)[:1])
    after = scrape(served.url)
    labels = {"endpoint": "/classify", "http_response_code": "200"}

    def series(metrics: dict, name: str) -> float:
        return sum(v for (n, ls), v in metrics.items() if n == name and set(labels.items()) <= set(ls))

    assert (
        series(after, "bentoml_service_request_total") - series(before, "bentoml_service_request_total") == 1
    )
    count = "bentoml_service_request_duration_seconds_count"
    assert series(after, count) - series(before, count) == 1


def test_presence_counters_count_each_modality_exactly(served: Served):
    names = served.model.modalities
    rows = _held_out(served)[:10]
    drops = {0: names[1:], 1: names[:1], 2: names[:2]}  # samples 0-2 miss some modalities
    for i, dropped in drops.items():
        rows[i]["modalities"] = {m: v for m, v in rows[i]["modalities"].items() if m not in dropped}
    before = scrape(served.url)
    _classify(served.url, rows)
    after = scrape(served.url)
    for name in names:
        missing = sum(name in dropped for dropped in drops.values())
        for status, expected in (("present", len(rows) - missing), ("missing", missing)):
            got = value(after, PRESENCE, modality=name, status=status) - value(
                before, PRESENCE, modality=name, status=status
            )
            assert got == expected, f"{name} {status}: {got} != {expected}"


def test_drift_gauge_rises_for_the_shifted_modality_only(served: Served):
    held_out = _held_out(served)
    repeat = -(-DRIFT_WINDOW // len(held_out))
    in_distribution = (held_out * repeat)[:DRIFT_WINDOW]  # fills the window
    _classify(served.url, in_distribution)
    calm = scrape(served.url)
    shifted = []
    for row in in_distribution:  # copy-number log2 ratios 2.5 higher: a different assay or cohort
        values = np.clip(np.array(row["modalities"]["cna"]) + 2.5, -8, 8).tolist()
        shifted.append({**row, "modalities": {**row["modalities"], "cna": values}})
    _classify(served.url, shifted)
    drifted = scrape(served.url)
    psi_calm = {m: value(calm, PSI, modality=m) for m in served.model.modalities}
    psi_drift = {m: value(drifted, PSI, modality=m) for m in served.model.modalities}
    print({"in_distribution": psi_calm, "cna_shifted": psi_drift})
    assert all((PSI, frozenset({("modality", m)})) in calm for m in served.model.modalities)
    assert psi_drift["cna"] > 1.0 and psi_drift["cna"] > 3 * psi_calm["cna"]
    for other in ("methylation", "fragmentomics"):  # the same inputs as before: no change
        assert psi_drift[other] == pytest.approx(psi_calm[other], abs=1e-6)
        assert psi_drift["cna"] > 3 * psi_drift[other]
    window = "oncofusion_input_drift_window_samples"
    assert value(drifted, window, modality="cna") == DRIFT_WINDOW


def test_a_model_without_a_training_reference_serves_without_drift_figures(
    champion_store: Store, served: Served, tmp_path
):
    """Models saved before drift monitoring: served as before, no PSI series, and the log says why."""
    env = copy_store(champion_store, tmp_path)
    name, version = champion_store.bento_model.split(":")
    weights = tmp_path / "bentoml" / "models" / name / version / "mlflow_model" / "artifacts" / "model.pt"
    payload = torch.load(weights, map_location="cpu", weights_only=False)
    del payload["reference"]
    torch.save(payload, weights)
    port, log = free_port(), tmp_path / "server.log"
    server = start_server(env, log, port)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(server, url, log)
        _classify(url, _held_out(served)[:5])
        metrics = scrape(url)
        drift = httpx.get(f"{url}/metadata", timeout=10).json()["drift_monitoring"]
    finally:
        stop(server)
    assert value(metrics, PRESENCE, modality="cna", status="present") == 5
    assert not [key for key in metrics if key[0] == PSI]
    assert all(state.startswith("off: the model carries no training reference") for state in drift.values())
    assert "no drift figure for modality cna (the model carries no training reference" in log.read_text()
