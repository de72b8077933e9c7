"""The interval over repeats that re-split one cohort: it must cover a true difference of zero about as
often as it says, where the plain t-interval over the same repeats does not."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from oncofusion.evaluation.repeats import FUSION, corrected_interval, held_out_ratio, summarise

N, N_TRAIN, N_TEST, REPEATS = 1000, 700, 150, 15


def _repeats_of_one_cohort(rng: np.random.Generator, true_difference: float) -> np.ndarray:
    """Per-sample score differences of one drawn cohort; each repeat tests on its own random 150 of
    them, plus training noise. Repeats share the cohort, so they scatter around its own mean, which
    misses the true difference by the cohort's sampling noise."""
    per_sample = rng.normal(true_difference, 1.0, size=N)
    return np.array(
        [
            per_sample[rng.choice(N, N_TEST, replace=False)].mean() + rng.normal(0, 0.02)
            for _ in range(REPEATS)
        ]
    )


def test_the_corrected_interval_covers_a_zero_difference_where_the_plain_one_does_not():
    rng = np.random.default_rng(0)
    corrected, plain = [], []
    for _ in range(300):
        differences = _repeats_of_one_cohort(rng, 0.0)
        (low, high), _ = corrected_interval(differences, N_TEST / N_TRAIN)
        corrected.append(low <= 0.0 <= high)
        half = stats.t.ppf(0.975, REPEATS - 1) * differences.std(ddof=1) / np.sqrt(REPEATS)
        plain.append(abs(differences.mean()) <= half)
    assert np.mean(corrected) >= 0.9
    assert np.mean(plain) < 0.85  # the premise: without the correction the repeats overclaim


def test_the_corrected_interval_still_finds_a_real_difference():
    rng = np.random.default_rng(1)
    found = [
        corrected_interval(_repeats_of_one_cohort(rng, 0.25), N_TEST / N_TRAIN)[0][0] > 0 for _ in range(100)
    ]
    assert np.mean(found) >= 0.9


def _runs(differences: list[float]) -> list[dict[str, dict[str, float]]]:
    scores = {"accuracy": 0.5, "f1_weighted": 0.5, "auroc": 0.5}
    return [
        {FUSION: {**scores, "f1_macro": 0.8 + d}, "gradient_boosting": {**scores, "f1_macro": 0.8}}
        for d in differences
    ]


def test_summarise_gives_the_corrected_interval_only_where_repeats_redraw_the_test_set():
    runs = _runs([0.05, 0.06, 0.04, 0.05, 0.07])
    redrawn = summarise(runs, test_over_train=0.2)["f1_macro_differences"]["fusion_minus_gradient_boosting"]
    low, high = redrawn["ci95_corrected"]
    assert low < 0.054 < high and low > 0  # consistent, tightly ahead
    assert redrawn["verdict"] == f"{FUSION} better" and redrawn["p_value_corrected"] < 0.05
    fixed = summarise(runs)
    assert "ci95_corrected" not in fixed["f1_macro_differences"]["fusion_minus_gradient_boosting"]
    assert "same in each" in fixed["interval"]
    noisy = summarise(_runs([0.05, -0.04, 0.02, -0.03, 0.01]), test_over_train=0.2)
    assert noisy["f1_macro_differences"]["fusion_minus_gradient_boosting"]["verdict"] == "within noise"


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("stratified (seeded; no split column)", 2 / 6),
        ("train/test from the labels file; val carved from train (18% per class, seeded)", None),
        ("given by the labels file's split column", None),
    ],
)
def test_only_a_drawn_split_is_redrawn_by_the_repeats(method, expected):
    labels = pd.DataFrame({"split": ["train"] * 6 + ["val"] * 2 + ["test"] * 2})
    assert held_out_ratio(labels, method) == expected
