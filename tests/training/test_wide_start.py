"""The wide path's start: a logistic regression on the member's rows, on the features that pass the
class-association screen."""

import numpy as np
import pytest
import torch
from scipy.stats import chi2_contingency
from sklearn.feature_selection import f_classif

from oncofusion.config import ConfigError, parse_params
from oncofusion.models.network import Architecture, ModalityInput, MultiModalNet
from oncofusion.training.data import CohortTensors
from oncofusion.training.wide_start import (
    association_p_values,
    screened_columns,
    start_from_logistic_regression,
)

from ..conftest import tabular_arch
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


def test_the_screen_keeps_a_feature_that_acts_through_a_threshold():
    """Class 1 where |x0| > 0.8 leaves the class means equal, so a mean test alone would drop x0 and
    with it the threshold the bins exist for; the bin test keeps it, and the start alone fits it."""
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(600, 20, generator=generator)
    y = (x[:, 0].abs() > 0.8).long()
    arch = tabular_arch(n_features=20, n_classes=2).model_copy(update={"wide_bins": 8})
    net = MultiModalNet(arch).eval()
    present = torch.ones(len(x), 1, dtype=torch.bool)
    data = CohortTensors([f"s{i}" for i in range(len(x))], {"x": x}, present, y)
    net.fit_scaling(data.inputs, present)
    start = start_from_logistic_regression(net, data, seed=0, c=1.0, screen_fdr=0.01)
    assert start.kept >= 1
    weight = net.wide.weight.detach()
    assert float(weight[:, [0, *range(20, 28)]].abs().sum()) > 0  # x0: its value and its 8 bins
    with torch.no_grad():
        called = net.wide(net.wide_features([net.scale("x", x)], present)).argmax(1)
    assert float((called == y).float().mean()) > 0.9


def test_the_bin_test_is_a_chi_square_test_of_bin_against_class():
    data = _sparse_cohort()
    net = _net(4)
    net.fit_scaling(data.inputs, data.present)
    scaled = [net.scale(name, data.inputs[name]) for name in net.names]
    edges = [net.edges_a, net.edges_b]
    y = data.target.numpy()
    with_bins = association_p_values(scaled, data.present, y, edges)
    means_only = association_p_values(scaled, data.present, y)
    feature = INFORMATIVE[0]
    values = scaled[0][:, feature].numpy()
    bins = np.searchsorted(edges[0][feature, 1:-1].numpy(), values, side="left")
    table = np.array([[np.sum((bins == b) & (y == k)) for k in range(3)] for b in range(4)])
    chi_square = chi2_contingency(table[table.sum(1) > 0], correction=False).pvalue
    expected = min(1.0, 2 * min(means_only[feature], chi_square))
    assert with_bins[feature] == pytest.approx(expected, rel=1e-6, abs=1e-300)
    assert (with_bins <= np.minimum(1.0, 2 * means_only) + 1e-12).all()


def test_a_two_class_start_puts_the_regression_on_the_second_logit():
    data = _sparse_cohort()
    data.target = (data.target == 0).long()
    arch = _net(0).arch.model_copy(update={"n_classes": 2})
    net = MultiModalNet(arch)
    net.fit_scaling(data.inputs, data.present)
    start_from_logistic_regression(net, data, seed=0, c=0.1, screen_fdr=0.01)
    weight = net.wide.weight.detach()
    assert float(weight[0].abs().sum()) == 0.0  # sklearn's binary form: one logit, for class 1
    assert {j for j in range(30) if weight[1, j] != 0} == set(INFORMATIVE)
    with torch.no_grad():
        called = net.wide(net.wide_features(scaled_of(net, data), data.present)).argmax(1)
    assert float((called == data.target).float().mean()) > 0.8


def scaled_of(net: MultiModalNet, data: CohortTensors) -> list[torch.Tensor]:
    return [net.scale(name, data.inputs[name]) for name in net.names]


@pytest.mark.parametrize("fdr", [0.0, -0.1, 1.5])
def test_an_impossible_screen_fdr_is_a_config_error(fdr):
    with pytest.raises(ConfigError, match=r"(?s)wide_screen_fdr.*(greater than|less than or equal)"):
        parse_params(small_training_params(wide_screen_fdr=fdr))


@pytest.mark.parametrize("fdr", [None, 1.0, 0.05])
def test_a_screen_fdr_in_range_or_null_is_accepted(fdr):
    assert parse_params(small_training_params(wide_screen_fdr=fdr)).train.wide_screen_fdr == fdr
