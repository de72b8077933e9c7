"""cfDNA fragment-length histograms from a mixture model.

Healthy (haematopoietic) cfDNA peaks at the mono-nucleosome (~167 bp) with a ~10 bp periodicity below
the peak (DNA wrapped around the histone core is cut once per helical turn) and a small di-nucleosome
peak. Tumour-derived cfDNA is shorter (~145 bp). Each sample mixes the two by its tumour fraction; the
fraction and the tumour peak position depend on the cancer type. Histograms are drawn from a multinomial
over ``n_fragments`` fragments, so sampling noise is realistic, and are normalised to sum to 1.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from oncofusion.config import FragmentomicsParams


@dataclass(frozen=True)
class FragmentomicsData:
    values: np.ndarray  # samples × bins, float32, rows sum to 1
    features: list[str]
    bin_edges: np.ndarray
    class_tumour_fraction: np.ndarray  # per class: mean tumour fraction
    class_tumour_peak_bp: np.ndarray  # per class: mode of the tumour component
    expected_class_profiles: np.ndarray  # classes × bins at the mean tumour fraction
    informative: list[str]


def _binned(density: np.ndarray, lengths: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Sum a per-bp density into bins (last axis), renormalised to a probability vector."""
    index = np.searchsorted(edges, lengths, side="right") - 1
    sums = np.zeros((*density.shape[:-1], len(edges) - 1))
    for b in range(len(edges) - 1):
        sums[..., b] = density[..., index == b].sum(axis=-1)
    return sums / sums.sum(axis=-1, keepdims=True)


def healthy_density(lengths: np.ndarray, params: FragmentomicsParams) -> np.ndarray:
    peak, sd = params.nucleosome_peak_bp, params.nucleosome_sd_bp
    mono = norm.pdf(lengths, peak, sd)
    # Periodicity below the peak only, as seen in real cfDNA (the ~10.4 bp helical pitch).
    wave = 1.0 + params.periodicity_amplitude * np.cos(2 * np.pi * (lengths - peak) / params.periodicity_bp)
    mono = np.where(lengths < peak, mono * wave, mono)
    di = norm.pdf(lengths, 2 * peak, 2 * sd)
    return (1 - params.dinucleosome_weight) * mono / mono.sum() + params.dinucleosome_weight * di / di.sum()


def generate_fragmentomics(
    label_index: np.ndarray, n_classes: int, params: FragmentomicsParams, rng: np.random.Generator
) -> FragmentomicsData:
    edges = np.arange(params.min_length, params.max_length + 1, params.bin_width)
    lengths = np.arange(params.min_length, params.max_length, dtype=float)
    features = [f"fl_{lo:03d}_{hi:03d}" for lo, hi in itertools.pairwise(edges)]

    low, high = params.tumour_fraction_range
    centre = (low + high) / 2
    drawn_fraction = rng.uniform(low, high, n_classes)
    class_fraction = centre + params.signal * (drawn_fraction - centre)
    drawn_shift = rng.uniform(-1.0, 1.0, n_classes) * params.class_peak_shift_bp
    class_peak = params.tumour_peak_bp + params.signal * drawn_shift

    healthy = healthy_density(lengths, params)
    tumour = norm.pdf(lengths[None, :], class_peak[:, None], params.tumour_sd_bp)
    tumour /= tumour.sum(axis=1, keepdims=True)

    kappa = params.tumour_fraction_concentration
    mean_fraction = class_fraction[label_index].clip(1e-6, 1 - 1e-6)  # Beta needs both shapes > 0
    sample_fraction = rng.beta(mean_fraction * kappa, (1 - mean_fraction) * kappa)
    density = (1 - sample_fraction)[:, None] * healthy + sample_fraction[:, None] * tumour[label_index]
    probabilities = _binned(density, lengths, edges)
    counts = np.stack([rng.multinomial(params.n_fragments, p) for p in probabilities])
    values = (counts / params.n_fragments).astype(np.float32)

    expected = _binned(
        (1 - class_fraction)[:, None] * healthy + class_fraction[:, None] * tumour, lengths, edges
    )
    spread = expected.max(axis=0) - expected.min(axis=0)
    informative = [f for f, s in zip(features, spread, strict=True) if s >= 0.25 * spread.max() > 0]
    return FragmentomicsData(
        values=values,
        features=features,
        bin_edges=edges,
        class_tumour_fraction=class_fraction,
        class_tumour_peak_bp=class_peak,
        expected_class_profiles=expected,
        informative=informative,
    )
