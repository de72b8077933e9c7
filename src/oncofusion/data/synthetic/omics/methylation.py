"""Methylation β values from per-class Beta distributions.

Each CpG has a baseline state, hypo- (β near 0) or hyper-methylated (β near 1), which makes the pooled
distribution bimodal as on real arrays. A subset of CpGs is differentially methylated: in one cancer type
its mean moves towards the opposite state, by a fraction ``signal`` of the way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oncofusion.config import MethylationParams


@dataclass(frozen=True)
class MethylationData:
    values: np.ndarray  # samples × CpGs, float32 in [0, 1]
    features: list[str]
    class_means: np.ndarray  # classes × CpGs: the Beta means used
    informative: list[str]
    marker_class: dict[str, int]  # informative CpG → the class in which it is flipped


def draw_beta_values(means: np.ndarray, concentration: float, rng: np.random.Generator) -> np.ndarray:
    """β values (float32) from Beta distributions of the given means and concentration (a + b)."""
    return rng.beta(means * concentration, (1.0 - means) * concentration).astype(np.float32)


def generate_methylation(
    label_index: np.ndarray, n_classes: int, params: MethylationParams, rng: np.random.Generator
) -> MethylationData:
    n_features = params.n_features
    features = [f"cg{j:08d}" for j in range(n_features)]
    hyper = rng.random(n_features) < params.hyper_fraction
    base_mean = np.where(hyper, rng.uniform(0.85, 0.95, n_features), rng.uniform(0.04, 0.14, n_features))

    informative = np.sort(rng.choice(n_features, size=params.n_informative, replace=False))
    owners = rng.permutation(np.arange(params.n_informative) % n_classes)
    class_means = np.tile(base_mean, (n_classes, 1))
    for cpg, owner in zip(informative, owners, strict=True):
        flipped = 1.0 - base_mean[cpg]
        class_means[owner, cpg] = base_mean[cpg] + params.signal * (flipped - base_mean[cpg])

    values = draw_beta_values(class_means[label_index], params.concentration, rng)
    return MethylationData(
        values=values,
        features=features,
        class_means=class_means,
        informative=[features[j] for j in informative],
        marker_class={features[j]: int(k) for j, k in zip(informative, owners, strict=True)},
    )
