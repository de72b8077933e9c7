"""Temperature scaling and calibration metrics (numpy only, so the server can apply them without torch).

A network trained with cross-entropy is usually overconfident: its top-class probability is higher than its
accuracy. Temperature scaling (Guo et al., 2017) divides the logits by one scalar T > 0 fitted on held-out
data. Dividing by a positive scalar never changes the argmax, so accuracy and the confusion matrix are
untouched; only the probabilities (and what is built on them: conformal sets, thresholds) move.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, logsumexp

from oncofusion.errors import ConfigError, OncofusionError

# log T is searched in this interval: T in [e^-5, e^5] ≈ [0.0067, 148], far wider than any sane model needs.
LOG_T_BOUNDS = (-5.0, 5.0)
# Probabilities are clipped here before the log, so a confidently wrong sample costs ≈ 27.6 nats, not inf.
_PROB_FLOOR = 1e-12


class CalibrationError(OncofusionError):
    """Logits, probabilities or labels passed for calibration are malformed."""


def _as_scores(values: np.ndarray, name: str) -> np.ndarray:
    """Float64 (samples × classes) array; float32 logits would make the fitted T depend on the dtype."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] < 2:
        raise CalibrationError(
            f"{name} must be a non-empty (samples × classes) array, got shape {array.shape}"
        )
    if not np.isfinite(array).all():
        raise CalibrationError(f"{name} contains NaN or infinite values")
    return array


def _as_probs(probs: np.ndarray) -> np.ndarray:
    """Like _as_scores, and in [0, 1]: passing logits where probabilities are due is the mistake to catch."""
    p = _as_scores(probs, "probs")
    if p.min() < -1e-6 or p.max() > 1 + 1e-6:
        raise CalibrationError(
            f"probs must lie in [0, 1] (logits passed?), got [{p.min():.4g}, {p.max():.4g}]"
        )
    return p


def _as_labels(y: np.ndarray, n_samples: int, n_classes: int) -> np.ndarray:
    """Integer class indices in [0, n_classes), one per sample."""
    labels = np.asarray(y)
    if labels.ndim != 1 or labels.shape[0] != n_samples:
        raise CalibrationError(f"y must have one label per sample ({n_samples}), got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise CalibrationError(f"y must hold integer class indices, got dtype {labels.dtype}")
    if labels.min() < 0 or labels.max() >= n_classes:
        raise CalibrationError(
            f"y holds labels outside [0, {n_classes}): min {labels.min()}, max {labels.max()}"
        )
    return labels.astype(np.int64)


def _check_temperature(temperature: float) -> float:
    value = float(temperature)
    if not np.isfinite(value) or value <= 0:
        raise ConfigError(f"temperature must be a finite number > 0, got {temperature}")
    return value


def _check_n_bins(n_bins: int) -> int:
    if int(n_bins) != n_bins or n_bins < 1:
        raise ConfigError(f"n_bins must be a positive integer, got {n_bins}")
    return int(n_bins)


def _mean_nll_of_logits(logits: np.ndarray, y: np.ndarray, temperature: float) -> float:
    """Mean NLL via log-softmax: exact for any T, no clipping, so the optimiser sees a smooth objective."""
    log_probs = log_softmax(logits / temperature, axis=1)
    return float(-log_probs[np.arange(len(y)), y].mean())


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """Temperature T > 0 minimising the mean NLL of softmax(logits / T) on held-out (logits, y).

    The search runs over log T with bounded Brent (deterministic: no random start). The NLL is convex in
    1/T (a log-sum-exp of terms linear in 1/T), hence unimodal in log T, so the bounded search finds the
    global minimum inside LOG_T_BOUNDS. A T at a bound means the data asks for more: with perfectly
    separated held-out data, for instance, the NLL keeps falling as T → 0.
    """
    scores = _as_scores(logits, "logits")
    labels = _as_labels(y, *scores.shape)
    result = minimize_scalar(
        lambda log_t: _mean_nll_of_logits(scores, labels, float(np.exp(log_t))),
        bounds=LOG_T_BOUNDS,
        method="bounded",
        options={"xatol": 1e-7},
    )
    return float(np.exp(result.x))


def apply_temperature(logits: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(logits / T), computed stably (the row max is subtracted before exp)."""
    scores = _as_scores(logits, "logits")
    scaled = scores / _check_temperature(temperature)
    return np.exp(scaled - logsumexp(scaled, axis=1, keepdims=True))


def negative_log_likelihood(probs: np.ndarray, y: np.ndarray) -> float:
    """Mean −log p(true class); probabilities are floored at 1e-12 so one certain mistake stays finite."""
    p = _as_probs(probs)
    labels = _as_labels(y, *p.shape)
    return float(-np.log(np.maximum(p[np.arange(len(labels)), labels], _PROB_FLOOR)).mean())


def brier_score(probs: np.ndarray, y: np.ndarray) -> float:
    """Multiclass Brier score: mean over samples of Σ_c (p_c − 1[c = y])², in [0, 2]."""
    p = _as_probs(probs)
    labels = _as_labels(y, *p.shape)
    onehot = np.zeros_like(p)
    onehot[np.arange(len(labels)), labels] = 1.0
    return float(((p - onehot) ** 2).sum(axis=1).mean())


def _bin_index(confidence: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin of each confidence: bin i holds (i/n, (i+1)/n]; 0 falls in bin 0. Shared by ECE and the diagram."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)


def reliability_bins(probs: np.ndarray, y: np.ndarray, n_bins: int = 15) -> list[dict]:
    """Top-label reliability diagram data: per equal-width confidence bin, its count, confidence and accuracy.

    Every bin is listed, empty ones too (count 0, mean_confidence and accuracy None), so the diagram and
    the stored JSON always have n_bins rows and None never needs special-casing as NaN in JSON.
    """
    p = _as_probs(probs)
    labels = _as_labels(y, *p.shape)
    n_bins = _check_n_bins(n_bins)
    confidence = p.max(axis=1)
    correct = p.argmax(axis=1) == labels
    index = _bin_index(confidence, n_bins)
    rows = []
    for i in range(n_bins):
        member = index == i
        count = int(member.sum())
        rows.append(
            {
                "lower": i / n_bins,
                "upper": (i + 1) / n_bins,
                "count": count,
                "mean_confidence": float(confidence[member].mean()) if count else None,
                "accuracy": float(correct[member].mean()) if count else None,
            }
        )
    return rows


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, n_bins: int = 15) -> float:
    """Top-label ECE: Σ_bins (count / N) · |accuracy − mean confidence| over equal-width confidence bins."""
    rows = reliability_bins(probs, y, n_bins)
    total = sum(row["count"] for row in rows)
    return float(
        sum(row["count"] * abs(row["accuracy"] - row["mean_confidence"]) for row in rows if row["count"])
        / total
    )


def calibration_report(logits: np.ndarray, y: np.ndarray, temperature: float, n_bins: int = 15) -> dict:
    """NLL, ECE and Brier score before (T = 1) and after temperature scaling, and T: flat, for log_metrics."""
    before = apply_temperature(logits, 1.0)
    after = apply_temperature(logits, temperature)
    return {
        "temperature": float(temperature),
        "nll_before": negative_log_likelihood(before, y),
        "nll_after": negative_log_likelihood(after, y),
        "ece_before": expected_calibration_error(before, y, n_bins),
        "ece_after": expected_calibration_error(after, y, n_bins),
        "brier_before": brier_score(before, y),
        "brier_after": brier_score(after, y),
    }
