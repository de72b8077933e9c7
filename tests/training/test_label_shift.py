import numpy as np
import torch

from oncofusion.training.data import CohortTensors
from oncofusion.training.evaluate import Predictions
from oncofusion.training.label_shift import estimate_class_mix, label_shift_document, shift_p_value

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
    assert report["shifted"] is True
    assert report["estimated_frequency"]["test"]["c"] > 0.35  # training says 0.1
    scores = report["test_f1_macro"]
    assert scores["adapted_to_estimated_mix"] > scores["model"] + 0.05
    same = label_shift_document(
        val, _predictions(*_draw(TRAINING, 400, seed=4)), np.array([600, 300, 100]), ["a", "b", "c"]
    )
    assert same is not None and same["shifted"] is False
