"""The wide path's start: a logistic regression on the member's rows, on the features that pass the
class-association screen."""

import numpy as np
import pytest
import torch
from sklearn.feature_selection import f_classif

from oncofusion.config import ConfigError, parse_params
from oncofusion.models.network import Architecture, ModalityInput, MultiModalNet
from oncofusion.training.data import CohortTensors
from oncofusion.training.wide_start import (
    association_p_values,
    screened_columns,
    start_from_logistic_regression,
)

from .conftest import small_training_params

INFORMATIVE = [3, 17]  # of modality "a"; modality "b" is noise throughout


def _net(bins: int) -> MultiModalNet:
    arch = Architecture(
        modalities=[
            ModalityInput(name="a", kind="tabular", n_features=30, encoder="mlp"),
            ModalityInput(name="b", kind="tabular", n_features=20, encoder="mlp"),
        ],
        n_classes=3,
        d_model=8,
        n_heads=2,
        n_layers=1,
        hidden=8,
        wide=True,
        wide_bins=bins,
    )
    torch.manual_seed(0)
    return MultiModalNet(arch)


def _sparse_cohort(n: int = 300, seed: int = 0) -> CohortTensors:
    """Three classes that differ in two of fifty features; a third of the rows lack modality "b"."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    a = rng.normal(size=(n, 30))
    a[:, INFORMATIVE] += 1.5 * np.eye(3)[y][:, :2] - 0.75
    b = rng.normal(size=(n, 20))
    present = np.ones((n, 2), dtype=bool)
    present[rng.random(n) < 1 / 3, 1] = False
    b[~present[:, 1]] = np.nan
    return CohortTensors(
        sample_ids=[f"s{i}" for i in range(n)],
        inputs={"a": torch.tensor(a, dtype=torch.float32), "b": torch.tensor(b, dtype=torch.float32)},
        present=torch.from_numpy(present),
        target=torch.from_numpy(y),
    )


def _started(bins: int, screen_fdr: float | None, data: CohortTensors | None = None):
    net, data = _net(bins), data or _sparse_cohort()
    net.fit_scaling(data.inputs, data.present)
    start = start_from_logistic_regression(net, data, seed=0, c=0.1, screen_fdr=screen_fdr)
    return net, start


def _weighted_features(net: MultiModalNet, bins: int) -> set[tuple[str, int]]:
    """The (modality, feature) pairs with any non-zero wide weight, on the raw value or a bin."""
    weight = net.wide.weight.detach().abs().sum(0).numpy()
    found, offset = set(), 0
    for name, n in (("a", 30), ("b", 20)):
        linear = weight[offset : offset + n]
        binned = weight[offset + n : offset + n + n * bins].reshape(n, bins).sum(1) if bins else 0 * linear
        found |= {(name, j) for j in np.flatnonzero(linear + binned)}
        offset += n * (1 + bins)
    return found


@pytest.mark.parametrize("bins", [0, 4])
def test_the_screen_keeps_the_informative_features_and_zeroes_the_rest(bins):
    net, start = _started(bins, screen_fdr=0.01)
    assert _weighted_features(net, bins) == {("a", j) for j in INFORMATIVE}
    assert (start.kept, start.features) == (2, 50)
    # Without the screen the L2 regression spreads weight over every feature, noise included.
    net, start = _started(bins, screen_fdr=None)
    assert len(_weighted_features(net, bins)) == 50
    assert (start.kept, start.features) == (50, 50)


def test_screened_columns_follow_the_wide_feature_layout():
    """Changing a kept feature's value moves exactly its columns of ``wide_features``, and the
    missing indicators are always kept."""
    bins = 3
    net = _net(bins)
    data = _sparse_cohort(n=40)
    net.fit_scaling(data.inputs, data.present)
    kept = np.zeros(50, dtype=bool)
    kept[[4, 33]] = True  # a's feature 4 and b's feature 3
    columns = screened_columns([30, 20], bins, kept)
    scaled = [net.scale(name, data.inputs[name]) for name in net.names]
    everything = torch.ones(40, 2, dtype=torch.bool)
    before = net.wide_features(scaled, everything)
    moved = [s.clone() for s in scaled]
    moved[0][:, 4] += torch.linspace(-3, 3, 40)
    moved[1][:, 3] += torch.linspace(3, -3, 40)
    changed = (net.wide_features(moved, everything) != before).any(0).nonzero().flatten().tolist()
    indicators = [before.shape[1] - 2, before.shape[1] - 1]
    assert sorted(columns.tolist()) == sorted(changed + indicators)


def test_a_screen_nothing_passes_leaves_the_bias_and_missing_indicators():
    data = _sparse_cohort()
    data.target = data.target[torch.randperm(len(data), generator=torch.Generator().manual_seed(1))]
    net, start = _started(4, screen_fdr=0.01, data=data)
    assert start.kept == 0
    assert float(net.wide.weight.detach()[:, :-2].abs().sum()) == 0.0


def test_the_screen_tests_a_modality_on_the_rows_that_have_it():
    """Absent rows are zeros after scaling: counted in, they would add degrees of freedom the
    modality does not have and make every p-value smaller."""
    data = _sparse_cohort()
    net = _net(0)
    net.fit_scaling(data.inputs, data.present)
    scaled = [net.scale(name, data.inputs[name]) for name in net.names]
    y = data.target.numpy()
    p = association_p_values(scaled, data.present, y)
    has_b = data.present[:, 1].numpy()
    np.testing.assert_allclose(p[:30], f_classif(scaled[0].numpy(), y)[1], rtol=1e-6)
    np.testing.assert_allclose(p[30:], f_classif(scaled[1].numpy()[has_b], y[has_b])[1], rtol=1e-6)


@pytest.mark.parametrize("fdr", [0.0, -0.1, 1.5])
def test_an_impossible_screen_fdr_is_a_config_error(fdr):
    with pytest.raises(ConfigError, match="wide_screen_fdr"):
        parse_params(small_training_params(wide_screen_fdr=fdr))
