"""Start the wide path from a fitted logistic regression.

The wide path is the logistic regression the model is compared with, inside the model, and with
``model.wide_bins`` also a piecewise-linear function of each feature (an additive model). Trained from
zero by the optimiser at the transformer's learning rate it stays far from that regression's optimum
within the epochs early stopping allows (on the default cohort: macro-F1 0.75 alone, against 0.92 for the
regression). Fitting it first, on the member's own training rows (exactly the features the path sees),
makes the joint training start where the regression ends; by default (``train.wide_lr_scale: 0``) it
stays there and the transformer learns what the additive model cannot. Adam's unit-size steps at the
transformer's rate walked the small, strongly regularised weights away within a few epochs (cfDNA:
macro-F1 0.74 jointly trained, against 0.80 for the start alone).

With ``train.wide_screen_fdr`` the regression sees only the features whose class association passes a
Benjamini–Hochberg threshold on the member's rows (:func:`association_p_values`: a mean shift or a
dependence of the feature's bin on the class, on the samples that have its modality); the others keep
zero weight. An L2 penalty spreads weight over every feature, so where a handful of a thousand carry
the signal (real omics tables) the noise features' small weights add up. Gradient boosting selects
features by construction; the screen is how the wide path does (figures: docs/results.md).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import chi2, false_discovery_control
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_selection import f_classif
from sklearn.linear_model import LogisticRegression

from oncofusion.models.network import MultiModalNet
from oncofusion.training.data import CohortTensors

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WideStart:
    """What the start kept: ``kept`` of ``features`` passed the screen (all of them without one)."""

    kept: int
    features: int

    @classmethod
    def of(cls, passed: np.ndarray) -> WideStart:
        return cls(kept=int(passed.sum()), features=len(passed))


@torch.no_grad()
def scaled_inputs(net: MultiModalNet, data: CohortTensors) -> list[torch.Tensor]:
    return [net.scale(name, net.preprocess[name](data.inputs[name])) for name in net.names]


def association_p_values(
    scaled: list[torch.Tensor],
    present: torch.Tensor,
    y: np.ndarray,
    edges: list[torch.Tensor] | None = None,
) -> np.ndarray:
    """One p-value per feature, modality after modality, on the rows that have the modality (absent
    rows are zeros after scaling, which would add degrees of freedom the modality does not have).

    The ANOVA F test sees a shift of the class means. With ``edges`` (the wide path's quantile bins)
    a chi-square test of the feature's bin against the class also sees what only the bins can use:
    a two-sided threshold (|x| > t) or a change of spread leaves the means alone. A feature's p-value
    is the smaller of the two, Bonferroni-corrected for taking it (× 2). A constant feature, or a
    modality too rare to test, gets p = 1."""
    p_values = []
    for i, x in enumerate(scaled):
        rows = present[:, i].numpy()
        values, labels = x.numpy()[rows], y[rows]
        p = np.ones(values.shape[1])
        if rows.sum() > len(np.unique(y)) and len(np.unique(labels)) > 1:
            p = _anova_p(values, labels)
            if edges is not None:
                binned = _bin_chi_square_p(values, labels, edges[i].numpy())
                p = np.minimum(1.0, 2.0 * np.minimum(p, binned))
        p_values.append(p)
    return np.concatenate(p_values)


def _anova_p(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)  # sklearn: "features ... are constant"
        _, p = f_classif(values, labels)
    return np.where(np.isfinite(p), p, 1.0)


def _bin_chi_square_p(values: np.ndarray, labels: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Chi-square test of independence between each feature's bin (``edges``: features × bins + 1)
    and the class, all features at once. Empty bins drop out of the degrees of freedom."""
    index = (values[:, :, None] > edges[None, :, 1:-1]).sum(axis=2)  # (rows, features) bin of each value
    onehot = (labels[:, None] == np.unique(labels)[None, :]).astype(np.float64)
    n_bins = edges.shape[1] - 1
    observed = np.stack([(index == b).T.astype(np.float64) @ onehot for b in range(n_bins)], axis=1)
    expected = observed.sum(2, keepdims=True) * observed.sum(1, keepdims=True) / len(labels)
    with np.errstate(divide="ignore", invalid="ignore"):
        cells = np.where(expected > 0, (observed - expected) ** 2 / expected, 0.0)
    statistic = cells.sum(axis=(1, 2))
    dof = ((observed.sum(2) > 0).sum(1) - 1) * (onehot.shape[1] - 1)
    p = np.ones(len(statistic))
    testable = dof > 0
    p[testable] = chi2.sf(statistic[testable], dof[testable])
    return p


def screened_columns(widths: list[int], bins: int, kept: np.ndarray) -> np.ndarray:
    """The wide-feature columns of the kept features: each kept feature's scaled value and its
    ``wide_bins`` piecewise-linear components, in the layout of ``MultiModalNet.wide_features``; the
    missing indicators are always kept."""
    columns, offset, first = [], 0, 0
    for n in widths:
        own = kept[first : first + n]
        columns.append(offset + np.flatnonzero(own))
        offset += n
        if bins:
            component = np.flatnonzero(np.repeat(own, bins))
            columns.append(offset + component)
            offset += n * bins
        first += n
    columns.append(offset + np.arange(len(widths)))
    return np.concatenate(columns)


@torch.no_grad()
def screen(
    net: MultiModalNet,
    data: CohortTensors,
    screen_fdr: float | None,
    scaled: list[torch.Tensor] | None = None,
) -> np.ndarray:
    """Which features pass the class-association screen on ``data`` (every one without a screen).
    Deterministic, so a resumed training can report what its interrupted start kept. ``scaled``:
    ``data``'s inputs already through ``scaled_inputs`` (the start has them)."""
    scaled = scaled_inputs(net, data) if scaled is None else scaled
    n_features = sum(s.shape[1] for s in scaled)
    if screen_fdr is None:
        return np.ones(n_features, dtype=bool)
    edges = [getattr(net, f"edges_{name}") for name in net.names] if net.arch.wide_bins else None
    p_values = association_p_values(scaled, data.present, data.target.numpy(), edges)
    passed = false_discovery_control(p_values) <= screen_fdr
    if not passed.any():
        log.info("wide start: no feature passed the screen (FDR %g); bias and indicators", screen_fdr)
    return passed


@torch.no_grad()
def start_from_logistic_regression(
    net: MultiModalNet,
    data: CohortTensors,
    seed: int,
    c: float = 0.01,
    screen_fdr: float | None = None,
) -> WideStart | None:
    if net.wide is None:
        return None
    scaled = scaled_inputs(net, data)
    x, y = net.wide_features(scaled, data.present).numpy(), data.target.numpy()
    passed = screen(net, data, screen_fdr, scaled)
    columns = screened_columns([s.shape[1] for s in scaled], net.arch.wide_bins, passed)
    n_classes = net.arch.n_classes
    weight = np.zeros((n_classes, x.shape[1]), dtype=np.float32)
    bias = np.zeros(n_classes, dtype=np.float32)
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=3000, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x[:, columns], y)
    if n_classes == 2 and model.coef_.shape[0] == 1:  # sklearn's binary form: one logit for class 1
        weight[1, columns], bias[1] = model.coef_[0], model.intercept_[0]
    else:
        weight[np.ix_(model.classes_, columns)], bias[model.classes_] = model.coef_, model.intercept_
    net.wide.weight.copy_(torch.from_numpy(weight))
    net.wide.bias.copy_(torch.from_numpy(bias))
    return WideStart.of(passed)
