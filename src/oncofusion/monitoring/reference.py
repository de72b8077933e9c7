"""The training reference a served model's inputs are compared with, fitted at train time.

Per modality: the principal components of the training split's raw inputs (standardised, so that no
feature dominates by its units), and decile bins of the training scores on each component. The
reference travels inside the model bundle, so any copy of the model can monitor drift without the
training data. Raw inputs are what a client sends: drift is measured before the model's own
transforms, where a change of assay, units or cohort shows first.
"""

from __future__ import annotations

from typing import Any

import numpy as np

FORMAT = "oncofusion-input-reference/1"
N_COMPONENTS = 3
N_BINS = 10
MIN_SAMPLES = 20  # fewer training rows of a modality than this give bins too coarse to compare with


def fit_reference(
    inputs: dict[str, np.ndarray],
    present: np.ndarray,
    names: list[str],
    n_components: int = N_COMPONENTS,
    n_bins: int = N_BINS,
) -> dict[str, Any]:
    """The reference for each modality with enough present training rows; the others say why not.

    `inputs[m]` is (samples, features) with NaN for missing values; `present[:, j]` marks the rows
    where modality `names[j]` was measured.
    """
    modalities: dict[str, Any] = {}
    for j, name in enumerate(names):
        rows = np.asarray(inputs[name], dtype=np.float64)[np.asarray(present[:, j], dtype=bool)]
        if len(rows) < MIN_SAMPLES:
            modalities[name] = {"skipped": f"{len(rows)} training samples (< {MIN_SAMPLES})"}
            continue
        modalities[name] = _fit_modality(rows, n_components, n_bins)
    return {"format": FORMAT, "n_bins": n_bins, "modalities": modalities}


def _fit_modality(rows: np.ndarray, n_components: int, n_bins: int) -> dict[str, Any]:
    with np.errstate(all="ignore"):
        center = np.nanmean(rows, axis=0)
        center = np.where(np.isfinite(center), center, 0.0)
        filled = np.where(np.isfinite(rows), rows, center)
        scale = filled.std(axis=0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    z = (filled - center) / scale
    _, singular, vt = np.linalg.svd(z, full_matrices=False)
    k = max(1, min(n_components, int((singular > 1e-9 * max(singular[0], 1e-300)).sum())))
    components = vt[:k]
    scores = z @ components.T
    edges, expected = [], []
    for c in range(k):
        inner = np.unique(np.quantile(scores[:, c], np.linspace(0, 1, n_bins + 1)[1:-1]))
        counts = np.bincount(np.searchsorted(inner, scores[:, c], side="right"), minlength=len(inner) + 1)
        edges.append(inner.tolist())
        expected.append((counts / counts.sum()).tolist())
    variance = singular**2
    return {
        "n_samples": len(rows),
        "center": center.tolist(),
        "scale": scale.tolist(),
        "components": components.tolist(),
        "explained_variance_ratio": (variance[:k] / variance.sum()).tolist() if variance.sum() else [],
        "edges": edges,
        "expected": expected,
    }
