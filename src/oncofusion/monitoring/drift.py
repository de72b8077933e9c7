"""Population-stability index of recent inputs against the training reference, over a sliding window.

PSI = Σ (actual − expected) · ln(actual / expected) over the reference's bins; by the usual reading,
below 0.1 is stable, 0.1–0.25 a moderate shift and above 0.25 a major one. A modality's figure is
the largest PSI over its principal components, so a shift along any one of them shows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SMOOTHING = 1e-4  # stands in for an empty bin, so ln(actual / expected) stays finite


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """PSI between two distributions over the same bins (each sums to 1)."""
    e = np.clip(np.asarray(expected, dtype=np.float64), SMOOTHING, None)
    a = np.clip(np.asarray(actual, dtype=np.float64), SMOOTHING, None)
    return float(np.sum((a - e) * np.log(a / e)))


class DriftWindow:
    """The last `size` samples of one modality, kept as their bin on each principal component.

    Counts are updated as samples enter and leave, so a request costs one projection, not a pass over
    the window.
    """

    def __init__(self, spec: dict[str, Any], size: int, min_samples: int) -> None:
        self.center = np.asarray(spec["center"], dtype=np.float64)
        self.scale = np.asarray(spec["scale"], dtype=np.float64)
        self.components = np.asarray(spec["components"], dtype=np.float64)
        self.edges = [np.asarray(e, dtype=np.float64) for e in spec["edges"]]
        self.expected = [np.asarray(e, dtype=np.float64) for e in spec["expected"]]
        self.size, self.min_samples = size, min_samples
        k = len(self.edges)
        self.bins = np.zeros((size, k), dtype=np.int64)
        self.counts = [np.zeros(len(e), dtype=np.int64) for e in self.expected]
        self.filled = 0  # samples in the window (≤ size)
        self.next = 0  # ring-buffer position of the next sample

    def add(self, values: np.ndarray) -> None:
        """Add (samples, features) raw inputs; NaN entries take the training mean, as at fit time."""
        values = np.asarray(values, dtype=np.float64)
        filled = np.where(np.isfinite(values), values, self.center)
        scores = ((filled - self.center) / self.scale) @ self.components.T
        for row in scores[-self.size :]:
            new = [int(np.searchsorted(edges, row[c], side="right")) for c, edges in enumerate(self.edges)]
            if self.filled == self.size:
                for c, old in enumerate(self.bins[self.next]):
                    self.counts[c][old] -= 1
            else:
                self.filled += 1
            self.bins[self.next] = new
            for c, b in enumerate(new):
                self.counts[c][b] += 1
            self.next = (self.next + 1) % self.size

    def psi(self) -> float | None:
        """The largest PSI over the components, or None while the window holds too few samples."""
        if self.filled < self.min_samples:
            return None
        return max(psi(e, c / self.filled) for e, c in zip(self.expected, self.counts, strict=True))
