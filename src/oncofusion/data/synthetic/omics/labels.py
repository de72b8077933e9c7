"""Cancer-type labels with a configurable class imbalance."""

from __future__ import annotations

import numpy as np


def class_counts(n_samples: int, proportions: list[float]) -> np.ndarray:
    """Exact per-class counts by largest remainder, so the imbalance is what params say, not a draw."""
    share = n_samples * np.asarray(proportions, dtype=float)
    counts = np.floor(share).astype(int)
    counts[np.argsort(-(share - counts), kind="stable")[: n_samples - counts.sum()]] += 1
    return counts


def draw_labels(n_samples: int, proportions: list[float], rng: np.random.Generator) -> np.ndarray:
    """Class index per sample, in random order."""
    counts = class_counts(n_samples, proportions)
    return rng.permutation(np.repeat(np.arange(len(counts)), counts))
