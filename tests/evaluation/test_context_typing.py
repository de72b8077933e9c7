"""The beyond-the-96 comparison: out-of-fold log-probabilities, late fusion, per-pair confusion."""

from __future__ import annotations

import numpy as np
import pandas as pd

from oncofusion.evaluation.context_typing import catalogue_features, compare, out_of_fold

CLASSES = ["a1", "a2", "b1", "b2"]
PAIRS = {"a": ("a1", "a2"), "b": ("b1", "b2")}


def _features(seed: int = 0, n: int = 120) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Catalogue-like features that tell the pairs apart but not their members; embedding-like ones
    that tell the members apart too (weakly, as a mean over variants would)."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(4), n // 4)
    pair = y // 2
    catalogues = rng.normal(size=(n, 20)) + 2.0 * pair[:, None] * (np.arange(20) < 5)
    member = (y % 2) * 2 - 1
    embedding = rng.normal(size=(n, 30)) + 1.0 * member[:, None] * (np.arange(30) < 4)
    return y, catalogues, embedding


def test_every_donor_gets_a_proper_distribution_from_a_model_that_never_saw_it():
    y, catalogues, _ = _features()
    log_p = out_of_fold(catalogues, y, folds=4, repeats=2, c=1.0, seed=0)
    assert log_p.shape == (2, len(y), 4)
    np.testing.assert_allclose(np.exp(log_p).sum(axis=-1), 1.0, atol=1e-6)
    assert (log_p.argmax(-1) // 2 == y // 2).mean() > 0.9  # the pair is found


def test_late_fusion_beats_catalogues_on_the_pairs_they_cannot_split():
    y, catalogues, embedding = _features()
    cat = out_of_fold(catalogues, y, 4, 2, 1.0, 0)
    emb = out_of_fold(embedding, y, 4, 2, 1.0, 0)
    predictions = {"cat": cat.argmax(-1), "emb": emb.argmax(-1), "both": (cat + emb).argmax(-1)}
    result = compare(y, predictions, CLASSES, PAIRS, "both", "cat", 300, 0)
    assert result["difference"]["verdict"] == "better" and result["difference"]["ci95"][0] > 0
    for entry in result["pairs"].values():
        assert entry["models"]["cat"]["pair_accuracy"] < 0.65  # about a coin toss within the pair
        assert entry["models"]["both"]["pair_accuracy"] > 0.8
        confusion = np.array(entry["models"]["cat"]["confusion_over_repeats"])
        assert confusion.sum() <= 2 * entry["n_donors"]  # two repeats, only calls inside the pair
    assert result["rows"]["both"]["f1_macro"] > result["rows"]["cat"]["f1_macro"]


def test_with_no_signal_the_difference_is_within_noise():
    y, catalogues, _ = _features(seed=1)
    noise = np.random.default_rng(2).normal(size=(len(y), 30))
    cat = out_of_fold(catalogues, y, 4, 2, 1.0, 0)
    both = cat + out_of_fold(noise, y, 4, 2, 1.0, 0)
    result = compare(
        y, {"cat": cat.argmax(-1), "both": both.argmax(-1)}, CLASSES, PAIRS, "both", "cat", 300, 0
    )
    assert result["difference"]["verdict"] != "better"


def test_catalogues_become_shares_plus_log_total():
    table = pd.DataFrame({"x": [1.0, 0.0], "y": [3.0, 0.0]}, index=["s1", "s2"])
    features = catalogue_features({"sbs96": table}, ["s1", "s2", "s3"])
    assert list(features.columns) == ["sbs96:x", "sbs96:y", "sbs96:log_total"]
    np.testing.assert_allclose(features.loc["s1"].to_numpy(), [0.25, 0.75, np.log1p(4.0)])
    assert (features.loc["s3"] == 0).all()  # a sample with no catalogue row: zero counts
