"""The training reference and the PSI drift window, in process (the live gauge is in test_metrics)."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from oncofusion.monitoring.drift import DriftWindow, psi
from oncofusion.monitoring.reference import MIN_SAMPLES, fit_reference
from oncofusion.serving.monitoring import InputMonitor

LOADINGS = np.arange(12).reshape(2, 6) / 10  # six features driven by two latent factors


def _data(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.normal(size=(n, 2)) @ LOADINGS + rng.normal(scale=0.1, size=(n, 6))


def test_psi_is_zero_for_equal_distributions_and_grows_with_the_shift():
    expected = np.full(10, 0.1)
    assert psi(expected, expected) == pytest.approx(0.0)
    small = psi(expected, np.r_[0.15, np.full(8, 0.1), 0.05])
    large = psi(expected, np.r_[np.zeros(9), 1.0])
    assert 0 < small < 0.1 < 1.0 < large


def test_window_psi_low_in_distribution_high_when_shifted_and_forgets_old_samples():
    rng = np.random.default_rng(0)
    train = _data(rng, 400)
    reference = fit_reference({"x": train}, np.ones((400, 1), bool), ["x"])
    spec = reference["modalities"]["x"]
    assert len(spec["components"]) == 3 and all(len(e) == 9 for e in spec["edges"])
    window = DriftWindow(spec, size=200, min_samples=100)
    window.add(_data(rng, 99))
    assert window.psi() is None  # too few samples for a figure
    window.add(_data(rng, 101))
    calm = window.psi()
    window.add(_data(rng, 200) + 1.5)  # the whole window is now shifted
    shifted = window.psi()
    window.add(_data(rng, 200))  # and back: the shifted samples leave the window
    assert window.filled == 200 and sum(window.counts[0]) == 200
    assert calm < 0.25 < 2.0 < shifted
    assert window.psi() < 0.25


def test_missing_values_take_the_training_mean_and_rare_modalities_are_skipped_with_a_reason():
    rng = np.random.default_rng(1)
    train = _data(rng, 100)
    train[::7, 2] = np.nan
    present = np.ones((100, 2), bool)
    present[MIN_SAMPLES - 1 :, 1] = False  # modality "y" present in too few rows
    reference = fit_reference({"x": train, "y": train}, present, ["x", "y"])
    assert "skipped" in reference["modalities"]["y"]
    window = DriftWindow(reference["modalities"]["x"], size=50, min_samples=10)
    window.add(np.where(rng.random((50, 6)) < 0.2, np.nan, _data(rng, 50)))
    assert np.isfinite(window.psi())


def test_monitor_counts_presence_and_without_a_reference_logs_why(caplog: pytest.LogCaptureFixture):
    registry = CollectorRegistry()
    with caplog.at_level(logging.WARNING, logger="oncofusion.serving.monitoring"):
        monitor = InputMonitor(["x", "y"], None, "model:tag", registry=registry)
    assert "no drift figure for modality x (the model carries no training reference" in caplog.text
    present = np.array([[True, False], [True, True], [False, True]])
    monitor.observe({"x": np.zeros((3, 6)), "y": np.zeros((3, 6))}, present, {"y": 1})
    get = registry.get_sample_value
    assert get("oncofusion_input_samples_total", {"modality": "x", "status": "present"}) == 2
    assert get("oncofusion_input_samples_total", {"modality": "x", "status": "missing"}) == 1
    assert get("oncofusion_input_profiles_rescaled_total", {"modality": "y"}) == 1
    assert get("oncofusion_classify_batch_size_count") == 1 and get("oncofusion_classify_batch_size_sum") == 3
    assert get("oncofusion_input_drift_psi", {"modality": "x"}) is None
