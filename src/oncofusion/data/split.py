"""Seeded, stratified train/val/test assignment.

Stratification keeps the class imbalance the same in every partition, so the rare cancer types are
present in validation and test; the seed makes the assignment reproducible from params.yaml alone.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from oncofusion.config import SplitParams
from oncofusion.errors import SplitError

log = logging.getLogger("oncofusion.split")
MIN_PER_CLASS = 3  # one sample each for train, val and test


def stratified_split(labels: pd.DataFrame, params: SplitParams, seed: int) -> pd.Series:
    """Return the partition ('train' | 'val' | 'test') for each sample_id.

    Each class is split on its own with the configured fractions, and every class keeps at least one
    sample in each partition, so rare types are never missing from validation or test metrics.
    """
    counts = labels["label"].value_counts()
    too_small = counts[counts < MIN_PER_CLASS]
    if not too_small.empty:
        detail = ", ".join(f"{label} ({n})" for label, n in too_small.items())
        raise SplitError(
            f"a stratified train/val/test split needs ≥ {MIN_PER_CLASS} samples per class; too few: {detail}"
        )
    rng = np.random.default_rng(seed)
    split = pd.Series("train", index=pd.Index(labels["sample_id"].to_numpy(), name="sample_id"), dtype=object)
    for label in sorted(counts.index):
        members = rng.permutation(labels.loc[labels["label"] == label, "sample_id"].to_numpy())
        n = len(members)
        n_test = max(1, round(params.test * n))
        n_val = max(1, round(params.val * n))
        overflow = max(0, n_test + n_val - (n - 1))  # keep at least one training sample
        n_val -= min(overflow, n_val - 1)
        n_test -= max(0, n_test + n_val - (n - 1))
        split[members[:n_test]] = "test"
        split[members[n_test : n_test + n_val]] = "val"
    return split


def carve_validation(labels: pd.DataFrame, fraction: float, seed: int) -> pd.Series:
    """Move a seeded, per-class share of the training samples to 'val' (a file gave only train/test).

    Each class with at least two training samples gives at least one to validation."""
    split = pd.Series(
        labels["split"].to_numpy(), index=pd.Index(labels["sample_id"].to_numpy(), name="sample_id")
    )
    rng = np.random.default_rng(seed)
    train = labels[labels["split"] == "train"]
    for label in sorted(train["label"].unique()):
        members = rng.permutation(train.loc[train["label"] == label, "sample_id"].to_numpy())
        if len(members) < 2:
            continue
        n_val = min(len(members) - 1, max(1, round(fraction * len(members))))
        split[members[:n_val]] = "val"
    return split


def split_assignment(labels: pd.DataFrame, params: SplitParams, seed: int) -> tuple[pd.Series, str]:
    """The partition per sample and how it was made: the file's split column when it has one (with a
    validation set carved from train if it gives only train/test), else a seeded stratified split.

    A class with no training sample is an error; one missing from val or test is logged and named in
    the method string (its metrics there are undefined)."""
    assignment, how = _assign(labels, params, seed)
    table = pd.crosstab(labels["label"].to_numpy(), assignment.reindex(labels["sample_id"]).to_numpy())
    untrained = [c for c in table.index if table.loc[c].get("train", 0) == 0]
    if untrained:
        raise SplitError(
            f"classes {untrained} have no training samples in the labels' split column; move some to train"
        )
    gaps = [f"{c} (no {p})" for c in table.index for p in ("val", "test") if table.loc[c].get(p, 0) == 0]
    if gaps:
        log.warning("classes missing from a partition: %s", ", ".join(gaps))
        how += f"; classes missing from a partition: {', '.join(gaps)}"
    return assignment, how


def _assign(labels: pd.DataFrame, params: SplitParams, seed: int) -> tuple[pd.Series, str]:
    if "split" not in labels.columns:
        return stratified_split(labels, params, seed), "stratified (seeded; no split column)"
    given = set(labels["split"])
    if given == set(("train", "val", "test")):
        index = pd.Index(labels["sample_id"].to_numpy(), name="sample_id")
        return pd.Series(labels["split"].to_numpy(), index=index), "from the labels file's split column"
    if given == {"train", "test"}:
        fraction = params.val / (params.train + params.val)
        return (
            carve_validation(labels, fraction, seed),
            f"train/test from the labels file; val carved from train ({fraction:.0%} per class, seeded)",
        )
    raise SplitError(
        f"the labels' split column holds {sorted(given)}; it needs train, val and test, or train and test "
        "(validation is then carved from train), or remove it for a stratified split"
    )


def split_summary(labels: pd.DataFrame) -> dict[str, object]:
    """Partition sizes and the smallest class count: the split stage's DVC metrics. Counts per class
    are in :func:`class_counts`, a plain JSON beside it (one column per class and partition made
    `dvc metrics show` unreadable on a 30-class cohort)."""
    table = pd.crosstab(labels["split"], labels["label"])
    summary: dict[str, object] = {
        f"n_{part}": int((labels["split"] == part).sum()) for part in ("train", "val", "test")
    }
    summary["min_class_count"] = int(np.min(table.to_numpy()))
    return summary


def class_counts(labels: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Samples per partition and class."""
    table = pd.crosstab(labels["split"], labels["label"])
    return {
        part: {label: int(table.loc[part, label]) if part in table.index else 0 for label in table.columns}
        for part in ("train", "val", "test")
    }


def resplit(labels: pd.DataFrame, method: str, params: SplitParams, seed: int) -> pd.Series:
    """The partition a repeat with ``seed`` uses, given how the original split was made (``method``, the
    string :func:`split_assignment` returned): a drawn split is drawn again, a validation set carved
    from the file's training samples is carved again, and a fully given split is kept as it is.

    ``labels`` is the split cohort's table (its split column is the original assignment)."""
    if method.startswith("stratified"):
        return stratified_split(labels.drop(columns="split"), params, seed)
    if method.startswith("train/test from the labels file"):
        original = labels.assign(split=labels["split"].replace({"val": "train"}))
        return carve_validation(original, params.val / (params.train + params.val), seed)
    index = pd.Index(labels["sample_id"].to_numpy(), name="sample_id")
    return pd.Series(labels["split"].to_numpy(), index=index)
