"""Weighted split-conformal sets under label shift (Podkopaev & Ramdas 2021): equal weights give the
plain rule, the thresholds match a direct construction of the weighted distribution, and on data shifted
on purpose the reweighted sets reach their coverage where the unweighted ones do not."""

from __future__ import annotations

import numpy as np
import pytest

from oncofusion.models.conformal import (
    ConformalError,
    ConformalSets,
    conformal_threshold,
    fit_conformal,
    weighted_thresholds,
)

from .test_conformal import _softmax


def _draw(rng: np.random.Generator, n: int, mix: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Classes 0 and 1 well predicted, class 2 hard (its true-class probability is low): a shared
    threshold set by a mix rich in easy classes leaves class 2 uncovered. P(x | y) is the same for any mix."""
    y = rng.choice(3, size=n, p=mix)
    z = rng.normal(0.0, 0.7, (n, 3))
    z[np.arange(n), y] += np.where(y == 2, 0.6, 3.0)
    return _softmax(z), y


def _direct(scores: np.ndarray, labels: np.ndarray, weight: np.ndarray, coverage: float, c: int) -> float:
    """The weighted quantile built literally: the point masses w(y_i) at s_i and w(c) at +inf,
    normalised, and the smallest t whose cumulative mass reaches the coverage."""
    points = np.r_[scores, np.inf]
    mass = np.r_[weight[labels], weight[c]]
    mass = mass / mass.sum()
    order = np.argsort(points, kind="stable")
    cumulative = np.cumsum(mass[order])
    t = points[order][np.searchsorted(cumulative, coverage - 1e-12)]
    return 1.0 if not np.isfinite(t) else float(t)


def test_equal_weights_give_the_unweighted_threshold():
    rng = np.random.default_rng(0)
    scores = rng.random(137)
    labels = rng.integers(0, 3, 137)
    for coverage in (0.8, 0.9, 0.95):
        expected = conformal_threshold(scores, coverage)
        assert np.allclose(weighted_thresholds(scores, labels, np.ones(3), coverage), expected)


def test_weighted_thresholds_match_the_direct_construction():
    rng = np.random.default_rng(1)
    for trial in range(20):
        n = int(rng.integers(5, 80))
        scores, labels = rng.random(n), rng.integers(0, 4, n)
        weight = rng.gamma(1.0, 1.0, 4)
        got = weighted_thresholds(scores, labels, weight, 0.9)
        want = [_direct(scores, labels, weight, 0.9, c) for c in range(4)]
        assert np.allclose(got, want), (trial, got, want)


def test_reweighted_sets_keep_their_coverage_under_label_shift_and_unweighted_ones_do_not():
    rng = np.random.default_rng(2)
    calibration_mix, test_mix = [0.45, 0.45, 0.10], [0.15, 0.15, 0.70]
    plain, weighted = [], []
    for _ in range(40):
        p_cal, y_cal = _draw(rng, 300, calibration_mix)
        p_test, y_test = _draw(rng, 400, test_mix)
        sets = fit_conformal(p_cal, y_cal, 3, 0.9, class_conditional="never")
        plain.append(sets.predict_sets(p_test)[np.arange(400), y_test].mean())
        shifted = sets.reweighted(np.array(test_mix))
        assert shifted.mode == "label_shift_weighted"
        weighted.append(shifted.predict_sets(p_test)[np.arange(400), y_test].mean())
    assert np.mean(plain) < 0.8  # the promise broken: 0.9 stated
    assert np.mean(weighted) >= 0.895  # the guarantee is on the mean over draws


def test_class_conditional_sets_are_returned_unchanged_and_stored_scores_round_trip():
    rng = np.random.default_rng(3)
    p, y = _draw(rng, 300, [0.4, 0.4, 0.2])
    mondrian = fit_conformal(p, y, 3, 0.9, class_conditional="always")
    assert mondrian.reweighted(np.array([0.1, 0.1, 0.8])) is mondrian
    marginal = fit_conformal(p, y, 3, 0.9, class_conditional="never")
    again = ConformalSets.from_dict(marginal.to_dict())
    assert again == marginal and len(again.scores) == 300
    mix = np.array([0.2, 0.3, 0.5])
    assert again.reweighted(mix).thresholds == marginal.reweighted(mix).thresholds


def test_thresholds_stored_without_scores_load_but_refuse_reweighting():
    stored = {
        "score": "1 - p_true",
        "coverage": 0.9,
        "mode": "marginal",
        "thresholds": [0.4] * 3,
        "n_calibration": [10, 10, 10],
    }
    old = ConformalSets.from_dict(stored)
    with pytest.raises(ConformalError, match="without their calibration scores"):
        old.reweighted(np.array([0.2, 0.3, 0.5]))
    with pytest.raises(ConformalError, match="class mix must be 3"):
        fit_conformal(*_draw(np.random.default_rng(4), 90, [0.3, 0.3, 0.4]), 3, 0.9, "never").reweighted(
            np.array([0.5, 0.5])
        )


def test_a_marginal_fit_accepts_a_class_absent_from_its_rows():
    """A pattern of modalities only some classes' samples have still gets one shared threshold."""
    from oncofusion.models.conformal import marginal_sets

    p, y = _draw(np.random.default_rng(5), 120, [0.5, 0.5, 0.0])
    sets = marginal_sets(p, y, 3, 0.9)
    assert sets.n_calibration[2] == 0 and sets.thresholds[0] == conformal_threshold(
        1 - p[np.arange(120), y], 0.9
    )
    with pytest.raises(ConformalError, match="never appear"):
        fit_conformal(p, y, 3, 0.9, class_conditional="never")
    assert sets.reweighted(np.array([0.2, 0.2, 0.6])).thresholds[2] <= 1.0
