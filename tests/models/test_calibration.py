import json
import math

import numpy as np
import pytest

from oncofusion.errors import ConfigError, OncofusionError
from oncofusion.models.calibration import (
    CalibrationError,
    apply_temperature,
    brier_score,
    calibration_report,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    reliability_bins,
)


def _known_model(n: int, n_classes: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """True log-probabilities of a known model and labels drawn from it: calibrated by construction."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 1.5, size=(n, n_classes))
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    y = (rng.random(n)[:, None] > np.cumsum(np.exp(log_p), axis=1)).sum(axis=1)
    return log_p, np.minimum(y, n_classes - 1)


def test_softmax_matches_hand_values_and_is_stable_for_huge_logits():
    probs = apply_temperature(np.array([[0.0, math.log(3.0)], [1000.0, 0.0]]), 1.0)
    np.testing.assert_allclose(probs, [[0.25, 0.75], [1.0, 0.0]], atol=1e-12)
    halved = apply_temperature(np.array([[0.0, 2 * math.log(3.0)]]), 2.0)
    np.testing.assert_allclose(halved, [[0.25, 0.75]], atol=1e-12)


@pytest.mark.parametrize("scale", [4.0, 0.5])
def test_temperature_recovers_the_scale_and_fixes_held_out_calibration(scale):
    log_p, y = _known_model(8000)
    logits = scale * log_p  # overconfident for 4, underconfident for 0.5; the right T is `scale`
    fit, held = slice(0, 4000), slice(4000, None)
    temperature = fit_temperature(logits[fit], y[fit])
    assert temperature == pytest.approx(scale, rel=0.1)

    before, after = apply_temperature(logits[held], 1.0), apply_temperature(logits[held], temperature)
    np.testing.assert_array_equal(before.argmax(axis=1), after.argmax(axis=1))
    assert negative_log_likelihood(after, y[held]) < negative_log_likelihood(before, y[held]) - 0.05
    ece_before, ece_after = (
        expected_calibration_error(before, y[held]),
        expected_calibration_error(after, y[held]),
    )
    assert ece_after < min(0.04, ece_before / 3)
    assert brier_score(after, y[held]) < brier_score(before, y[held])


def test_fit_temperature_is_deterministic_and_near_one_for_a_calibrated_model():
    log_p, y = _known_model(3000, seed=1)
    first, second = fit_temperature(log_p, y), fit_temperature(log_p, y)
    assert first == second
    assert first == pytest.approx(1.0, abs=0.1)


def test_fit_temperature_accepts_float32_logits_and_rejects_bad_input():
    log_p, y = _known_model(500, seed=2)
    assert fit_temperature(log_p.astype(np.float32), y) == pytest.approx(fit_temperature(log_p, y), rel=1e-4)
    with pytest.raises(CalibrationError, match="one label per sample"):
        fit_temperature(log_p, y[:-1])
    with pytest.raises(CalibrationError, match="outside"):
        fit_temperature(log_p, np.full(len(y), 4))
    with pytest.raises(CalibrationError, match="NaN"):
        fit_temperature(np.full((3, 2), np.nan), np.zeros(3, dtype=int))
    with pytest.raises(ConfigError, match="temperature"):
        apply_temperature(log_p, 0.0)
    assert issubclass(CalibrationError, OncofusionError)


def test_metrics_match_hand_computed_values():
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.2, 0.8]])
    y = np.array([0, 1, 1, 0])
    assert negative_log_likelihood(probs, y) == pytest.approx(
        -(math.log(0.9) + math.log(0.4) + math.log(0.7) + math.log(0.2)) / 4
    )
    # Σ_c (p_c − onehot_c)² per row: 0.02, 0.72, 0.18, 1.28.
    assert brier_score(probs, y) == pytest.approx((0.02 + 0.72 + 0.18 + 1.28) / 4)
    # Two bins: (0, 0.5] is empty (top-label confidence ≥ 0.5); (0.5, 1] holds all four, confidence mean 0.75,
    # accuracy 2/4 (rows 0 and 2 right).
    rows = reliability_bins(probs, y, n_bins=2)
    assert rows[0] == {"lower": 0.0, "upper": 0.5, "count": 0, "mean_confidence": None, "accuracy": None}
    assert rows[1]["count"] == 4
    assert rows[1]["mean_confidence"] == pytest.approx(0.75)
    assert rows[1]["accuracy"] == pytest.approx(0.5)
    assert expected_calibration_error(probs, y, n_bins=2) == pytest.approx(0.25)
    # Five bins (lower, upper]: 0.6 is the top edge of (0.4, 0.6], 0.8 of (0.6, 0.8] (with 0.7); 0.9 is last.
    five = reliability_bins(probs, y, n_bins=5)
    assert [row["count"] for row in five] == [0, 0, 1, 2, 1]
    assert expected_calibration_error(probs, y, n_bins=5) == pytest.approx(
        (abs(0 - 0.6) + 2 * abs(0.5 - 0.75) + abs(1 - 0.9)) / 4
    )
    json.dumps(five)  # None, not NaN, for empty bins


def test_probability_metrics_reject_logits_and_bad_bins():
    with pytest.raises(CalibrationError, match=r"\[0, 1\]"):
        brier_score(np.array([[2.0, -1.0]]), np.array([0]))
    with pytest.raises(ConfigError, match="n_bins"):
        reliability_bins(np.array([[0.5, 0.5]]), np.array([0]), n_bins=0)


def test_calibration_report_has_before_after_and_temperature():
    log_p, y = _known_model(2000, seed=3)
    logits = 3.0 * log_p
    report = calibration_report(logits, y, 3.0)
    assert set(report) == {
        "temperature",
        "nll_before",
        "nll_after",
        "ece_before",
        "ece_after",
        "brier_before",
        "brier_after",
    }
    assert report["temperature"] == 3.0
    assert report["nll_after"] == pytest.approx(negative_log_likelihood(np.exp(log_p), y))
    assert report["nll_after"] < report["nll_before"]
    assert report["ece_after"] < report["ece_before"]
    json.dumps(report)


def test_reliability_plot_writes_a_png(tmp_path):
    from oncofusion.evaluation.plots import reliability_plot

    log_p, y = _known_model(1000, seed=4)
    before = reliability_bins(apply_temperature(4.0 * log_p, 1.0), y)
    after = reliability_bins(apply_temperature(4.0 * log_p, 4.0), y)
    path = reliability_plot(before, after, tmp_path / "plots" / "reliability.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
