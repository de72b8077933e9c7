import numpy as np
import pytest
from scipy import stats

from oncofusion.config import MethylationParams
from oncofusion.data.synthetic.omics.methylation import generate_methylation


def _generate(signal: float, n: int = 3000, seed: int = 0):
    params = MethylationParams(n_features=40, n_informative=12, signal=signal, concentration=10.0)
    labels = np.arange(n) % 3
    return labels, generate_methylation(labels, 3, params, np.random.default_rng(seed))


def test_beta_values_are_bimodal_and_in_unit_interval():
    _, data = _generate(signal=0.1)  # the default signal strength
    values = data.values.ravel()
    assert data.values.dtype == np.float32
    assert values.min() >= 0.0 and values.max() <= 1.0
    # Most CpGs sit near 0 or 1, few in the middle: the shape of real array data.
    assert np.mean((values < 0.25) | (values > 0.75)) > 0.8
    assert np.mean((values > 0.4) & (values < 0.6)) < 0.05
    # Sarle's bimodality coefficient exceeds 5/9 (the uniform distribution's value) for bimodal data.
    coefficient = (stats.skew(values) ** 2 + 1) / (stats.kurtosis(values) + 3)
    assert coefficient > 5 / 9


def test_informative_cpgs_differ_between_classes_and_others_do_not():
    labels, data = _generate(signal=0.6)
    informative = set(data.informative)
    assert len(informative) == 12
    for j, feature in enumerate(data.features):
        groups = [data.values[labels == k, j] for k in range(3)]
        p_value = stats.f_oneway(*groups).pvalue
        if feature in informative:
            assert p_value < 1e-10, feature
            owner = data.marker_class[feature]
            others = np.concatenate([g for k, g in enumerate(groups) if k != owner])
            assert abs(groups[owner].mean() - others.mean()) > 0.3
        else:
            assert p_value > 1e-4, feature


def test_zero_signal_means_identical_class_distributions():
    labels, data = _generate(signal=0.0)
    assert np.allclose(data.class_means[0], data.class_means[1])
    j = data.features.index(data.informative[0])
    assert stats.f_oneway(*[data.values[labels == k, j] for k in range(3)]).pvalue > 1e-4


@pytest.mark.parametrize("signal", [0.2, 0.8])
def test_signal_scales_the_mean_shift(signal):
    _, data = _generate(signal=signal)
    feature = data.informative[0]
    j, owner = data.features.index(feature), data.marker_class[feature]
    base = data.class_means[(owner + 1) % 3, j]
    assert data.class_means[owner, j] == pytest.approx(base + signal * (1 - 2 * base))
