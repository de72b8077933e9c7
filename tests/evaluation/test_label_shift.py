import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import chi2

from oncofusion.evaluation.label_shift import (
    estimate_class_mix,
    label_shift_document,
    shift_p_value,
    training_counts,
)
from oncofusion.evaluation.metrics import Predictions
from oncofusion.training.data import CohortTensors

MEANS = np.array([-1.5, 0.0, 1.5])  # one Gaussian feature per class, unit variance
TRAINING = np.array([0.6, 0.3, 0.1])


def _draw(mix: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from ``mix`` and the exact posteriors of a model calibrated to TRAINING."""
    rng = np.random.default_rng(seed)
    y = rng.choice(len(mix), size=n, p=mix)
    x = rng.normal(MEANS[y], 1.0)
    likelihood = np.exp(-0.5 * (x[:, None] - MEANS[None, :]) ** 2)
    posterior = likelihood * TRAINING
    return y, posterior / posterior.sum(axis=1, keepdims=True)


def _predictions(y: np.ndarray, probabilities: np.ndarray) -> Predictions:
    data = CohortTensors(
        sample_ids=[f"s{i}" for i in range(len(y))],
        inputs={},
        present=torch.ones(len(y), 1, dtype=torch.bool),
        target=torch.from_numpy(y),
    )
    empty = np.zeros((len(y), 1))
    return Predictions(data, probabilities=probabilities, attention=empty, embedding=empty)


def test_em_recovers_the_class_mix_of_a_shifted_cohort_without_its_labels():
    shifted = np.array([0.2, 0.3, 0.5])
    _, probabilities = _draw(shifted, 6000, seed=0)
    np.testing.assert_allclose(estimate_class_mix(probabilities, TRAINING), shifted, atol=0.03)
    _, probabilities = _draw(TRAINING, 6000, seed=1)
    np.testing.assert_allclose(estimate_class_mix(probabilities, TRAINING), TRAINING, atol=0.03)


def test_the_likelihood_ratio_test_is_quiet_on_the_training_mix_and_flags_another():
    """Calibrated probabilities on cohorts drawn like training: about 1% of p-values below 0.01."""
    quiet = []
    for seed in range(40):
        _, probabilities = _draw(TRAINING, 150, seed)
        quiet.append(shift_p_value(probabilities, TRAINING, estimate_class_mix(probabilities, TRAINING)))
    assert sum(p < 0.01 for p in quiet) <= 2
    assert sum(p < 0.5 for p in quiet) >= 8  # a test that never fires would pass the line above
    _, probabilities = _draw(np.array([0.4, 0.3, 0.3]), 150, seed=0)
    assert shift_p_value(probabilities, TRAINING, estimate_class_mix(probabilities, TRAINING)) < 0.001


def test_the_report_flags_a_shifted_test_set_and_the_adapted_call_scores_higher():
    val = _predictions(*_draw(TRAINING, 200, seed=2))
    test = _predictions(*_draw(np.array([0.2, 0.3, 0.5]), 400, seed=3))
    report = label_shift_document(val, test, np.array([600, 300, 100]), ["a", "b", "c"])
    assert report is not None
    assert report["shifted"] is True and report["verdict"] == "shifted"
    assert report["estimated_frequency"]["test"]["c"] > 0.35  # training says 0.1
    scores = report["test_f1_macro"]
    assert scores["adapted_to_estimated_mix"] > scores["model"] + 0.05
    same = label_shift_document(
        val, _predictions(*_draw(TRAINING, 400, seed=4)), np.array([600, 300, 100]), ["a", "b", "c"]
    )
    assert same is not None and same["shifted"] is False and same["verdict"] == "no shift"
    already = label_shift_document(val, test, np.array([600, 300, 100]), ["a", "b", "c"], decision="balanced")
    assert already is not None and already["verdict"] == "shifted"
    assert "already" in already["advice"] and "decision: balanced" in already["advice"]


def test_the_statistic_is_twice_the_maximised_log_likelihood_ratio_with_classes_minus_one_df():
    """Against a brute-force maximisation over the two-class simplex (catches a lost factor 2 or a
    wrong degrees of freedom, which the tests above would not)."""
    training = np.array([0.7, 0.3])
    rng = np.random.default_rng(5)
    y = rng.choice(2, size=300, p=[0.5, 0.5])
    x = rng.normal(np.array([-1.0, 1.0])[y])
    posterior = np.exp(-0.5 * (x[:, None] - np.array([-1.0, 1.0])[None, :]) ** 2) * training
    posterior /= posterior.sum(axis=1, keepdims=True)
    share = np.linspace(0.0005, 0.9995, 19999)
    mixes = np.stack([1 - share, share], axis=1)
    log_ratio = np.log(posterior @ (mixes / training).T).sum(axis=0)
    expected = chi2.sf(2 * log_ratio.max(), df=1)
    assert expected < 0.01  # the draw is shifted, so the comparison is not between two p-values of 1
    found = shift_p_value(posterior, training, estimate_class_mix(posterior, training))
    assert found == pytest.approx(expected, rel=0.01)


def test_the_check_reads_no_labels_and_stays_finite_for_a_class_without_training_rows():
    val = _predictions(*_draw(TRAINING, 200, seed=6))
    y, probabilities = _draw(np.array([0.2, 0.3, 0.5]), 300, seed=7)
    report = label_shift_document(val, _predictions(y, probabilities), np.array([600, 300, 100]), list("abc"))
    shuffled = np.random.default_rng(0).permutation(y)
    again = label_shift_document(
        val, _predictions(shuffled, probabilities), np.array([600, 300, 100]), list("abc")
    )
    assert report is not None and again is not None
    assert again["estimated_frequency"] == report["estimated_frequency"]
    assert again["shift_p_value"] == report["shift_p_value"]
    with np.errstate(divide="raise", invalid="raise"):  # no log(0) or 0/0 on the way
        unseen = label_shift_document(
            val, _predictions(y, probabilities), np.array([600, 300, 0]), list("abc")
        )
    assert unseen is not None
    assert np.isfinite(list(unseen["estimated_frequency"]["test"].values())).all()
    assert np.isfinite(unseen["shift_p_value"])


def test_a_miscalibrated_validation_split_means_the_test_cannot_tell():
    """Validation rows drawn from another mix than the probabilities assume: the check refuses to read
    the test split rather than flag or clear it."""
    val = _predictions(*_draw(np.array([0.1, 0.3, 0.6]), 300, seed=8))
    test = _predictions(*_draw(np.array([0.2, 0.3, 0.5]), 300, seed=9))
    report = label_shift_document(val, test, np.array([600, 300, 100]), list("abc"))
    assert report is not None
    assert report["shift_p_value_val"] < 0.01
    assert report["shifted"] is False
    assert report["verdict"] == "cannot tell" and "cannot tell" in report["advice"]


def test_training_counts_follow_the_class_order_and_count_a_missing_class_as_zero():
    labels = pd.DataFrame(
        {"label": ["b", "a", "b", "c", "b", "a"], "split": ["train"] * 3 + ["val", "test", "train"]}
    )
    assert training_counts(labels, ["a", "b", "c", "d"]).tolist() == [2, 2, 0, 0]
