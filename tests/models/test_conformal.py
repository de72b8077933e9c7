import json
import math
from fractions import Fraction

import numpy as np
import pytest

from oncofusion.errors import ConfigError, OncofusionError
from oncofusion.models.conformal import (
    ConformalError,
    ConformalSets,
    conformal_rank,
    conformal_threshold,
    fit_conformal,
    min_samples_per_class,
    set_metrics,
)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _pool(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """i.i.d. (so exchangeable) samples of a decent 3-class model: continuous scores, no ties."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    z = rng.normal(0.0, 1.0, (n, 3))
    z[np.arange(n), y] += 1.5
    return _softmax(z), y


def _rare_class_pool(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Classes 0 and 1 common and well predicted; class 2 (8%) rare and mostly mistaken for a common class.

    The rare class's true-class scores sit above almost every common-class score, so a shared (marginal)
    threshold, set by the 92% common samples, leaves the rare class nearly uncovered.
    """
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=n, p=[0.46, 0.46, 0.08])
    z = rng.normal(0.0, 0.5, (n, 3))
    z[np.arange(n), y] += 3.0
    rare = y == 2
    z[rare, 2] -= 2.5
    z[rare, rng.integers(0, 2, rare.sum())] += 1.5
    return _softmax(z), y


def _mean_split_coverage(
    probs: np.ndarray, y: np.ndarray, n_cal: int, coverage: float, mode: str, n_splits: int, seed: int
) -> tuple[float, np.ndarray, set[str]]:
    """Mean test coverage (overall and per class) over random calibration/test splits of one pool.

    Conditional on the pool, a random split makes calibration and test exchangeable, so the conformal
    guarantee holds for this average exactly as stated.
    """
    rng = np.random.default_rng(seed)
    overall, per_class, modes = [], [], set()
    for _ in range(n_splits):
        order = rng.permutation(len(y))
        cal, test = order[:n_cal], order[n_cal:]
        sets = fit_conformal(probs[cal], y[cal], 3, coverage, class_conditional=mode)
        modes.add(sets.mode)
        metrics = set_metrics(sets.predict_sets(probs[test]), y[test])
        overall.append(metrics["coverage"])
        per_class.append(metrics["per_class_coverage"])
    return float(np.mean(overall)), np.array(per_class, dtype=float).mean(axis=0), modes


@pytest.mark.parametrize(("n_cal", "exact"), [(19, 18 / 20), (100, 91 / 101)], ids=["n19", "n100"])
def test_marginal_coverage_is_within_the_split_conformal_bounds(n_cal, exact):
    probs, y = _pool(1200, seed=0)
    coverage = 0.9
    mean, _, modes = _mean_split_coverage(probs, y, n_cal, coverage, "never", n_splits=600, seed=1)
    assert modes == {"marginal"}
    # Without ties the expected coverage is exactly rank/(n+1): 18/20 for n = 19 and 91/101 for n = 100;
    # a rank off by one moves it by 1/(n+1) ≥ 0.0099, several standard errors of this 600-split mean.
    assert coverage - 0.005 <= mean <= coverage + 1 / (n_cal + 1) + 0.005
    assert mean == pytest.approx(exact, abs=0.005)


def test_class_conditional_covers_a_rare_class_that_marginal_misses():
    probs, y = _rare_class_pool(3000, seed=2)
    coverage = 0.9
    mean, per_class, modes = _mean_split_coverage(probs, y, 1000, coverage, "auto", n_splits=200, seed=3)
    assert modes == {"class_conditional"}
    assert (per_class >= coverage - 0.02).all(), per_class
    assert mean >= coverage - 0.01

    _, marginal_per_class, _ = _mean_split_coverage(probs, y, 1000, coverage, "never", n_splits=50, seed=3)
    # The data really separates the modes: the shared threshold leaves the rare class far below target.
    assert marginal_per_class[2] < 0.5, marginal_per_class


def test_threshold_is_the_ceil_rank_order_statistic():
    # Nine calibration samples of class 0 with p_true 0.95, 0.85, ..., 0.15 → scores 0.05, 0.15, ..., 0.85.
    p_true = np.array([0.95, 0.85, 0.75, 0.65, 0.55, 0.45, 0.35, 0.25, 0.15])
    scores = 1 - p_true
    # coverage 0.8: rank ⌈10 · 0.8⌉ = 8 → the 8th smallest score, 0.75.
    assert conformal_threshold(scores, 0.8) == pytest.approx(0.75)
    # coverage 0.9: rank ⌈10 · 0.9⌉ = 9 = n → the largest score, still finite.
    assert conformal_threshold(scores, 0.9) == pytest.approx(0.85)
    # coverage 0.95: rank ⌈9.5⌉ = 10 > n → +inf, stored as 1.0.
    assert conformal_threshold(scores, 0.95) == 1.0

    # Same scores, labels split over both classes (every class must appear): rows of class 1 are mirrored.
    labels = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0])
    probs = np.column_stack([p_true, 1 - p_true])
    probs[labels == 1] = probs[labels == 1, ::-1]
    sets = fit_conformal(probs, labels, 2, 0.8, class_conditional="never")
    assert sets.thresholds == pytest.approx((0.75, 0.75))
    membership = sets.predict_sets(np.array([[0.25, 0.75], [0.24, 0.76]]))
    # 1 − 0.25 = 0.75 ≤ q is in (boundary included); 0.76 is not. Class 1: 1 − 0.75 = 0.25 ≤ 0.75.
    np.testing.assert_array_equal(membership, [[True, True], [False, True]])


def test_too_few_calibration_samples_include_every_class():
    probs, _ = _pool(5, seed=4)
    sets = fit_conformal(probs, np.array([0, 1, 2, 0, 1]), 3, 0.9, class_conditional="auto")
    assert sets.mode == "marginal"  # no class has the 9 samples class-conditional mode needs
    assert sets.thresholds == (1.0, 1.0, 1.0)  # rank ⌈6 · 0.9⌉ = 6 > 5 samples
    certain = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    assert sets.predict_sets(certain).all()


def test_rank_and_minimum_count_agree_with_exact_rational_arithmetic():
    # In floating point 100 · 0.55 and 75 · 0.68 land just above 55 and 51: a bare ceil is one rank high.
    for text in ["0.5", "0.55", "0.6", "0.68", "0.7", "0.75", "0.8", "0.85", "0.9", "0.95", "0.975", "0.99"]:
        exact, coverage = Fraction(text), float(text)
        for n in range(300):
            assert conformal_rank(n, coverage) == math.ceil((n + 1) * exact), (text, n)
        minimum = min_samples_per_class(coverage)
        assert minimum == math.ceil(exact / (1 - exact)), text
        assert conformal_rank(minimum, coverage) <= minimum < conformal_rank(minimum - 1, coverage) + 1
    assert min_samples_per_class(0.9) == 9


def test_auto_falls_back_to_marginal_and_always_names_the_short_class():
    probs, y = _rare_class_pool(400, seed=5)
    keep = np.concatenate([np.flatnonzero(y != 2), np.flatnonzero(y == 2)[:5]])
    probs, y = probs[keep], y[keep]
    names = ["LUAD", "BRCA", "rare"]
    auto = fit_conformal(probs, y, 3, 0.9, class_conditional="auto", classes=names)
    assert auto.mode == "marginal"
    assert len(set(auto.thresholds)) == 1
    assert auto.n_calibration[2] == 5
    with pytest.raises(ConformalError, match=r"class 2 \('rare'\) has 5.*") as raised:
        fit_conformal(probs, y, 3, 0.9, class_conditional="always", classes=names)
    assert "at least 9" in str(raised.value)
    assert "LUAD" not in str(raised.value)
    assert fit_conformal(probs, y, 3, 0.8, class_conditional="always").mode == "class_conditional"  # needs 4


def test_a_class_missing_from_calibration_is_named():
    probs, y = _pool(60, seed=6)
    y = np.where(y == 1, 0, y)
    for mode in ("auto", "always", "never"):
        with pytest.raises(ConformalError, match=r"class 1 \('BRCA'\) never appear"):
            fit_conformal(probs, y, 3, 0.9, class_conditional=mode, classes=["LUAD", "BRCA", "COAD"])
    with pytest.raises(ConformalError, match=r"class 1 never appear"):
        fit_conformal(probs, y, 3, 0.9)


@pytest.mark.parametrize("coverage", [0.0, 1.0, 1.5, -0.1, float("nan")])
def test_coverage_outside_the_open_unit_interval_is_a_config_error(coverage):
    probs, y = _pool(30, seed=7)
    with pytest.raises(ConfigError, match="coverage"):
        fit_conformal(probs, y, 3, coverage)


def test_bad_calibration_inputs_are_refused_clearly():
    probs, y = _pool(30, seed=8)
    with pytest.raises(ConformalError, match="empty"):
        fit_conformal(np.empty((0, 3)), np.empty(0, dtype=int), 3, 0.9)
    with pytest.raises(ConformalError, match="30 rows but y has shape"):
        fit_conformal(probs, y[:-2], 3, 0.9)
    with pytest.raises(ConformalError, match=r"4 classes\), got shape \(30, 3\)"):
        fit_conformal(probs, y, 4, 0.9)
    with pytest.raises(ConformalError, match="logits"):
        fit_conformal(np.log(probs), y, 3, 0.9)
    with pytest.raises(ConfigError, match="class_conditional"):
        fit_conformal(probs, y, 3, 0.9, class_conditional="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="names"):
        fit_conformal(probs, y, 3, 0.9, classes=["A", "B"])
    assert issubclass(ConformalError, OncofusionError)


def test_to_dict_from_dict_round_trips_through_json():
    probs, y = _rare_class_pool(600, seed=9)
    sets = fit_conformal(probs, y, 3, 0.9, classes=["A", "B", "C"])
    assert sets.mode == "class_conditional"
    data = json.loads(json.dumps(sets.to_dict(), allow_nan=False))
    restored = ConformalSets.from_dict(data)
    assert restored == sets
    np.testing.assert_array_equal(restored.predict_sets(probs), sets.predict_sets(probs))
    assert data["n_calibration"] == np.bincount(y, minlength=3).tolist()


def test_from_dict_refuses_a_damaged_or_foreign_record():
    good = fit_conformal(*_pool(100, seed=10), 3, 0.9).to_dict()
    for broken, message in [
        ({**good, "score": "aps"}, "score"),
        ({k: v for k, v in good.items() if k != "mode"}, "keys"),
        ({**good, "extra": 1}, "keys"),
        ({**good, "mode": "mondrian"}, "mode"),
        ({**good, "thresholds": [0.5, 0.5]}, "one threshold"),
        ({**good, "thresholds": [1.5, 1.5, 1.5]}, r"\[0, 1\]"),
        ({**good, "mode": "marginal", "thresholds": [0.1, 0.2, 0.3]}, "shared"),
        ({**good, "coverage": 1.0}, "coverage"),
    ]:
        with pytest.raises(ConformalError, match=message):
            ConformalSets.from_dict(broken)
    with pytest.raises(ConformalError, match="probs must be"):
        ConformalSets.from_dict(good).predict_sets(np.ones((2, 4)) / 4)


def test_set_metrics_counts_by_hand():
    sets = np.array([[True, False, False], [True, True, False], [False, False, False], [False, True, True]])
    metrics = set_metrics(sets, np.array([0, 2, 1, 1]))
    assert metrics == {
        "coverage": 0.5,
        "mean_set_size": 1.25,
        "empty_share": 0.25,
        "singleton_share": 0.25,
        "per_class_coverage": [1.0, 0.5, 0.0],
    }
    assert set_metrics(sets[:1], np.array([0]))["per_class_coverage"] == [1.0, None, None]
    with pytest.raises(ConformalError, match="boolean"):
        set_metrics(sets.astype(int), np.array([0, 2, 1, 1]))


def test_class_conditional_sets_match_crepes_mondrian_classifier():
    crepes = pytest.importorskip("crepes")
    rng = np.random.default_rng(11)
    probs, y = _pool(1500, seed=12)
    # Calibration counts whose (n + 1) · 0.1 is not an integer: there crepes (p ≥ α) and the rank rule
    # (p > α) coincide; at integer (n + 1)α crepes includes one more calibration rank.
    cal = np.concatenate(
        [rng.choice(np.flatnonzero(y == k), size, replace=False) for k, size in enumerate([30, 45, 52])]
    )
    test = np.setdiff1d(np.arange(len(y)), cal)
    ours = fit_conformal(probs[cal], y[cal], 3, 0.9, class_conditional="always")
    theirs = crepes.ConformalClassifier().fit(1 - probs[cal, y[cal]], bins=y[cal])
    expected = np.column_stack(
        [
            theirs.predict_p(1 - probs[test, k], bins=np.full(len(test), k), smoothing=False) >= 0.1
            for k in range(3)
        ]
    )
    np.testing.assert_array_equal(ours.predict_sets(probs[test]), expected)
