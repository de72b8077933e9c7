"""The drift gauge the service exports (`oncofusion_input_drift_psi`) stays low for inputs drawn like
the training reference and rises for the modality that shifts: the in-process counterpart of
test_metrics.py's served check, through `InputMonitor.observe` as the service calls it per batch."""

from __future__ import annotations

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from oncofusion.config import parse_params
from oncofusion.data.synthetic.omics.cohort import generate_cohort
from oncofusion.monitoring.reference import fit_reference
from oncofusion.serving.monitoring import DRIFT_WINDOW, InputMonitor

from ..conftest import tiny_raw_params

PSI = "oncofusion_input_drift_psi"
BATCH = 25  # samples per model call


def _inputs(n: int) -> tuple[list[str], dict[str, np.ndarray]]:
    raw = tiny_raw_params()
    raw["synthesize"]["n_samples"] = n
    params = parse_params(raw)
    cohort = generate_cohort(params.synthesize, seed=params.base.seed, name="tiny")
    names = list(cohort.meta.modalities)
    return names, {m: cohort.modalities[m].to_numpy(dtype=np.float32) for m in names}


def _observe(monitor: InputMonitor, names: list[str], inputs: dict[str, np.ndarray]) -> None:
    n = len(next(iter(inputs.values())))
    for start in range(0, n, BATCH):
        batch = {m: v[start : start + BATCH] for m, v in inputs.items()}
        present = np.stack([~np.isnan(batch[m]).all(axis=1) for m in names], axis=1)
        monitor.observe(batch, present)


def test_drift_gauge_stays_low_in_distribution_and_rises_for_the_shifted_modality():
    names, inputs = _inputs(2 * DRIFT_WINDOW)
    training = {m: v[:DRIFT_WINDOW] for m, v in inputs.items()}
    served = {m: v[DRIFT_WINDOW:] for m, v in inputs.items()}  # drawn like training, not the same rows
    reference = fit_reference(training, np.ones((DRIFT_WINDOW, len(names)), dtype=bool), names)
    registry = CollectorRegistry()
    monitor = InputMonitor(names, reference, "model:test", registry=registry)
    assert monitor.status == dict.fromkeys(names, "on")

    def gauge() -> dict[str, float | None]:
        return {m: registry.get_sample_value(PSI, {"modality": m}) for m in names}

    _observe(monitor, names, served)
    calm = gauge()
    assert all(value is not None for value in calm.values()), calm
    assert all(0.0 < value < 0.25 for value in calm.values()), calm  # stable, and a figure, not a stuck 0

    # Copy-number log2 ratios 2.5 higher (another assay or cohort); the other modalities as before.
    _observe(monitor, names, {**served, "cna": served["cna"] + 2.5})
    shifted = gauge()
    assert shifted["cna"] > 1.0 and shifted["cna"] > 3 * calm["cna"], (calm, shifted)
    for other in set(names) - {"cna"}:
        assert shifted[other] == pytest.approx(calm[other], abs=1e-9), other  # the window holds the same rows
    window = registry.get_sample_value("oncofusion_input_drift_window_samples", {"modality": "cna"})
    assert window == DRIFT_WINDOW
