"""Is one sample unlike anything the model was trained on? A per-sample check, fitted at train time.

The drift monitor (monitoring/drift.py) compares batches; a clinician's single sample needs its own
answer. Swagger's default example (every copy-number value 8, fragment shares of 1e12) was called BRCA at
probability 1.0 with a one-class set. A softmax is confident far from its data, so the answer must say
so: a flagged sample's set holds every class (models/bundle.py) and the answer lists the reasons.

Per present modality, on the values the network sees (after the model's own transform, so a count
profile's burden does not count twice):
- range: a value outside the training range widened by the range itself on each side (an 8 where
  training spans -2..2 is flagged; a rare channel a little above its training maximum is not; a
  feature constant in training is left to the distance);
- distance: the root-mean-square z-score against the training mean and sd, above a threshold set by
  conformal outlier detection on the training rows: the ⌈(n+1)(1−α)⌉-th smallest training distance
  with α = FALSE_FLAG_RATE / modalities, so an exchangeable new sample is flagged with probability
  ≤ FALSE_FLAG_RATE in all (Bates et al. 2023, "Testing for outliers with conformal p-values").
  The training distances are cross-fitted (each fold's rows against the mean and sd of the others):
  scored against statistics they helped fit, held-out samples of the default cohort were flagged 4×
  as often as the rate promises (3–4% against 1%).
A profile whose raw values did not sum to its total is flagged where it is rescaled (the service, the
tables reader), since by the time values reach the model they sum to it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from oncofusion.models.conformal import conformal_rank

FORMAT = "oncofusion-outliers/1"
FALSE_FLAG_RATE = 0.01
MIN_ROWS = 20  # fewer training rows of a modality give no usable range or threshold


def transformed(preprocess: nn.ModuleDict, name: str, values: np.ndarray) -> np.ndarray:
    """The modality's values as the network sees them (log1p, proportions, top-k), float64."""
    with torch.no_grad():
        out = preprocess[name](torch.as_tensor(values, dtype=torch.float32))
    return out.double().numpy()


def _rms_z(values: np.ndarray, center: np.ndarray, scale: np.ndarray) -> np.ndarray:
    z = (values - center) / scale
    with np.errstate(invalid="ignore"):
        return np.sqrt(np.nanmean(z * z, axis=1))


def _moments(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sd per feature; the sd floored at a tenth of the modality's median sd, so a feature
    (almost) constant in training cannot make one new non-zero value an infinite distance (nor, in the
    training rows, a threshold no sample could exceed)."""
    with np.errstate(all="ignore"):
        center, scale = np.nanmean(rows, axis=0), np.nanstd(rows, axis=0)
    center = np.nan_to_num(center, nan=0.0)
    scale = np.where(np.isfinite(scale), scale, 0.0)
    spread = scale[scale > 0]
    floor = max(0.1 * float(np.median(spread)) if len(spread) else 1.0, 1e-6)
    return center, np.maximum(scale, floor)


def _cross_fitted_distances(rows: np.ndarray, folds: int = 5) -> np.ndarray:
    """Each row's distance from the mean and sd of the rows outside its fold (seeded folds)."""
    fold = np.random.default_rng(0).permutation(len(rows)) % folds
    distances = np.empty(len(rows))
    for k in range(folds):
        center, scale = _moments(rows[fold != k])
        distances[fold == k] = _rms_z(rows[fold == k], center, scale)
    return distances


def fit_outliers(
    inputs: dict[str, np.ndarray], present: np.ndarray, names: list[str], preprocess: nn.ModuleDict
) -> dict[str, Any]:
    """The per-modality ranges, centre, scale and distance threshold from the training split's raw
    inputs (rows × features, NaN where missing); modalities with too few rows say why they are skipped."""
    alpha = FALSE_FLAG_RATE / max(1, len(names))
    modalities: dict[str, Any] = {}
    for j, name in enumerate(names):
        rows = transformed(preprocess, name, inputs[name][np.asarray(present[:, j], dtype=bool)])
        if len(rows) < MIN_ROWS:
            modalities[name] = {"skipped": f"{len(rows)} training samples (< {MIN_ROWS})"}
            continue
        with np.errstate(all="ignore"):
            low, high = np.nanmin(rows, axis=0), np.nanmax(rows, axis=0)
        low, high = np.nan_to_num(low, nan=0.0), np.nan_to_num(high, nan=0.0)
        center, scale = _moments(rows)
        distances = np.sort(_cross_fitted_distances(rows))
        rank = conformal_rank(len(distances), 1.0 - alpha)
        threshold = float(distances[rank - 1]) if rank <= len(distances) else None
        modalities[name] = {
            "low": low.tolist(),
            "high": high.tolist(),
            "center": center.tolist(),
            "scale": scale.tolist(),
            "distance_threshold": threshold,
            "n_samples": len(rows),
        }
    return {"format": FORMAT, "false_flag_rate": FALSE_FLAG_RATE, "modalities": modalities}


def flag_outliers(
    reference: dict[str, Any] | None,
    inputs: dict[str, np.ndarray],
    present: np.ndarray,
    names: list[str],
    preprocess: nn.ModuleDict,
    features: dict[str, list[str]] | None = None,
) -> list[list[str]]:
    """One list of reasons per sample (empty: within the training distribution as far as can be told)."""
    n = len(present)
    reasons: list[list[str]] = [[] for _ in range(n)]
    if reference is None:
        return reasons
    for j, name in enumerate(names):
        spec = reference["modalities"].get(name, {})
        rows = np.flatnonzero(np.asarray(present[:, j], dtype=bool))
        if "skipped" in spec or not len(rows):
            continue
        values = transformed(preprocess, name, inputs[name][rows])
        low, high = np.asarray(spec["low"]), np.asarray(spec["high"])
        width = high - low
        with np.errstate(invalid="ignore"):  # a feature constant in training has no range to leave
            outside = ((values < low - width) | (values > high + width)) & (width > 0)
        distance = _rms_z(values, np.asarray(spec["center"]), np.asarray(spec["scale"]))
        threshold = spec["distance_threshold"]
        for r, i in enumerate(rows):
            count = int(outside[r].sum())
            if count:
                k = int(np.flatnonzero(outside[r])[0])
                named = features is not None and len(features.get(name, [])) == values.shape[1]
                label = features[name][k] if named else f"transformed feature {k}"  # type: ignore[index]
                reasons[i].append(
                    f"{name}: {count} value(s) far outside the training range (e.g. {label} = "
                    f"{values[r, k]:.4g} as the model sees it; training {low[k]:.4g} to {high[k]:.4g})"
                )
            if threshold is not None and np.isfinite(distance[r]) and distance[r] > threshold:
                reasons[i].append(
                    f"{name}: distance {distance[r]:.3g} from the training data above the threshold "
                    f"{threshold:.3g} (all modalities together flag about {FALSE_FLAG_RATE:.0%} of samples "
                    "like the training ones)"
                )
    return reasons
