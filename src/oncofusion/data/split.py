"""Seeded, stratified train/val/test assignment.

Stratification keeps the class imbalance the same in every partition, so the rare cancer types are
present in validation and test; the seed makes the assignment reproducible from params.yaml alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from oncofusion.config import SplitParams
from oncofusion.errors import SplitError

MIN_PER_CLASS = 3  # one sample each for train, val and test


def stratified_split(labels: pd.DataFrame, params: SplitParams, seed: int) -> pd.Series:
    """Return the partition ('train' | 'val' | 'test') for each sample_id."""
    counts = labels["label"].value_counts()
    too_small = counts[counts < MIN_PER_CLASS]
    if not too_small.empty:
        detail = ", ".join(f"{label} ({n})" for label, n in too_small.items())
        raise SplitError(f"a stratified train/val/test split needs ≥ {MIN_PER_CLASS} samples per class; too few: {detail}")
    ids = labels["sample_id"].to_numpy()
    y = labels["label"].to_numpy()
    n_classes = counts.size
    n_test = max(int(round(params.test * len(ids))), n_classes)
    try:
        rest_ids, test_ids, rest_y, _ = train_test_split(ids, y, test_size=n_test, stratify=y, random_state=seed)
        n_val = max(int(round(params.val * len(ids))), n_classes)
        train_ids, val_ids = train_test_split(rest_ids, test_size=n_val, stratify=rest_y, random_state=seed + 1)
    except ValueError as error:
        raise SplitError(f"cannot split {len(ids)} samples into {params.model_dump()}: {error}") from None
    split = pd.Series(index=pd.Index(ids, name="sample_id"), dtype=object)
    split[train_ids] = "train"
    split[val_ids] = "val"
    split[test_ids] = "test"
    return split


def split_summary(labels: pd.DataFrame) -> dict[str, object]:
    """Per-partition and per-class counts: the split stage's DVC metrics."""
    table = pd.crosstab(labels["split"], labels["label"])
    summary: dict[str, object] = {f"n_{part}": int((labels["split"] == part).sum()) for part in ("train", "val", "test")}
    summary["per_class"] = {
        part: {label: int(table.loc[part, label]) if part in table.index else 0 for label in table.columns}
        for part in ("train", "val", "test")
    }
    summary["min_class_count"] = int(np.min(table.to_numpy()))
    return summary
