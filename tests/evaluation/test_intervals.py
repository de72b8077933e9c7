"""Bootstrap intervals behave as stated, on data made to check them."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score

from oncofusion.evaluation.intervals import bootstrap_f1, resampled_macro_f1


def _classifier(
    rng: np.random.Generator, n: int, accuracy: float, k: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    y = rng.integers(0, k, n)
    wrong = (y + rng.integers(1, k, n)) % k
    return y, np.where(rng.random(n) < accuracy, y, wrong)


def test_vectorised_macro_f1_equals_sklearn_on_every_resample():
    rng = np.random.default_rng(0)
    y, p = _classifier(rng, 40, 0.6, k=5)
    p[:3] = 5  # a class that only the predictions have
    draws = rng.integers(0, len(y), size=(300, len(y)))
    expected = [f1_score(y[d], p[d], average="macro") for d in draws]
    np.testing.assert_allclose(resampled_macro_f1(y, p, draws), expected, atol=1e-12)


def test_interval_covers_the_population_f1_about_95_percent_of_the_time():
    """A classifier of known quality; each simulated test set of 150 samples gets its own interval,
    and the population's macro-F1 must fall inside about 95% of them (percentile bootstrap: a little
    under nominal at this size)."""
    rng = np.random.default_rng(1)
    y_pop, p_pop = _classifier(rng, 400_000, 0.75)
    truth = f1_score(y_pop, p_pop, average="macro")
    hits, trials = 0, 300
    for t in range(trials):
        rows = rng.integers(0, len(y_pop), 150)
        result = bootstrap_f1(y_pop[rows], {"m": p_pop[rows]}, n=400, seed=t, reference="m")
        low, high = result["m"]["ci95"]
        hits += low <= truth <= high
    assert 0.88 <= hits / trials <= 0.99, hits / trials


def test_interval_width_shrinks_with_the_test_set():
    rng = np.random.default_rng(2)
    widths = []
    for n in (70, 400):
        y, p = _classifier(rng, n, 0.8)
        low, high = bootstrap_f1(y, {"m": p}, n=1000, seed=0, reference="m")["m"]["ci95"]
        widths.append(high - low)
    assert widths[1] < widths[0] * 0.7  # ~ 1/sqrt(n): 0.42 expected


def test_paired_difference_verdicts():
    rng = np.random.default_rng(3)
    y, good = _classifier(rng, 200, 0.95)
    _, poor = _classifier(rng, 200, 0.55)
    out = bootstrap_f1(y, {"fusion": good, "same": good.copy(), "poor": poor}, 1000, 0, reference="fusion")
    assert out["fusion_minus_same"]["ci95"] == [0.0, 0.0]
    assert out["fusion_minus_same"]["verdict"] == "within noise"
    assert out["fusion_minus_poor"]["verdict"] == "fusion better"
    assert out["fusion_minus_poor"]["ci95"][0] > 0.2
    reverse = bootstrap_f1(y, {"poor": poor, "good": good}, 1000, 0, reference="poor")
    assert reverse["poor_minus_good"]["verdict"] == "good better"


def test_paired_interval_is_narrower_than_unpaired_for_correlated_models():
    """Two models that agree on most samples: the paired difference must not inherit the test set's
    own sampling noise (that is the point of pairing)."""
    rng = np.random.default_rng(4)
    y, a = _classifier(rng, 150, 0.8)
    b = a.copy()
    flip = rng.choice(150, 6, replace=False)
    b[flip] = y[flip]  # b fixes 6 of a's samples (some were already right)
    out = bootstrap_f1(y, {"a": a, "b": b}, 1000, 0, reference="a")
    paired = out["a_minus_b"]["ci95"][1] - out["a_minus_b"]["ci95"][0]
    single = out["a"]["ci95"][1] - out["a"]["ci95"][0]
    assert paired < single / 2
