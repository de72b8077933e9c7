"""The variant-set sample model: a sample's vector reads only its own variants (not another sample's,
not padding, not their order), and the learned position embedding lets it type samples whose variants
differ only in where they fall; MuAt's tokens say what the catalogues say."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from oncofusion.config.dna import DnaSetModelParams
from oncofusion.dna.muat import motifs, muat_ids, positions, vocabulary_ids
from oncofusion.dna.variant_sets import VariantSetModel, VariantSets, fit_set_model, predict_sets
from oncofusion.errors import CohortError


def _model(dense: int, vocab: dict[str, int], layers: int = 1) -> VariantSetModel:
    torch.manual_seed(0)
    return VariantSetModel(dense, vocab, 3, width=16, layers=layers, heads=2, dropout=0.0).eval()


@pytest.mark.parametrize("layers", [0, 1])
def test_a_sample_vector_reads_only_its_own_variants(layers):
    rng = np.random.default_rng(0)
    owners = np.array(["a", "b", "a", "c", "b", "a", "c", "c", "c"])
    dense = rng.normal(size=(9, 5)).astype(np.float32)
    ids = {"position": rng.integers(1, 6, size=9)}
    model = _model(5, {"position": 6}, layers)
    sets = VariantSets.of(owners, dense, ids)
    batch = sets.batch(["a", "b", "c"], None, None)
    assert batch.present.sum(1).tolist() == [3, 2, 4]
    with torch.no_grad():
        pooled, weights = model.pool(batch)
        assert torch.allclose(weights.sum(1), torch.ones(3)) and (weights[~batch.present] == 0).all()
        changed = dense.copy()
        changed[owners == "c"] += 100.0  # another sample's variants, wildly different
        again, _ = model.pool(VariantSets.of(owners, changed, ids).batch(["a", "b", "c"], None, None))
        assert torch.allclose(again[:2], pooled[:2], atol=1e-5) and not torch.allclose(again[2], pooled[2])
        alone, _ = model.pool(sets.batch(["b"], None, None))  # no padding: the same vector
        assert torch.allclose(alone[0], pooled[1], atol=1e-5)
        shuffled = np.random.default_rng(1).permutation(9)  # the variants' order within a sample
        reordered = VariantSets.of(owners[shuffled], dense[shuffled], {"position": ids["position"][shuffled]})
        assert torch.allclose(model.pool(reordered.batch(["a", "b", "c"], None, None))[0], pooled, atol=1e-5)


def test_a_sample_without_variants_gets_a_finite_answer():
    sets = VariantSets.of(np.array(["a", "a"]), np.ones((2, 4), np.float32), {})
    probabilities = predict_sets(_model(4, {}), sets, ["a", "nobody"])
    assert np.isfinite(probabilities).all() and np.allclose(probabilities.sum(1), 1.0)


@pytest.mark.parametrize("empty", ["training", "validation"])
def test_an_empty_split_is_named_not_a_bare_max_error(empty):
    sets = VariantSets.of(np.array(["a", "b"]), np.ones((2, 4), np.float32), {})
    some = (["a"], np.array([0]))
    none = ([], np.array([], dtype=np.int64))
    train, val = (none, some) if empty == "training" else (some, none)
    with pytest.raises(CohortError, match=f"the {empty} split is empty"):
        fit_set_model(sets, train, val, 2, DnaSetModelParams(epochs=1), seed=0)
    assert sets.batch([], None, None).present.shape == (0, 1)


def _position_cohort(n_per_class: int, seed: int):
    """Three classes whose variants look alike (the same dense noise) and differ only in which of
    three position bins most of them fall in."""
    rng = np.random.default_rng(seed)
    owners, bins, labels = [], [], {}
    for c in range(3):
        for i in range(n_per_class):
            sample = f"s{c}_{i}_{seed}"
            labels[sample] = c
            n = int(rng.integers(20, 40))
            owners += [sample] * n
            bins += list(np.where(rng.random(n) < 0.7, c + 1, rng.integers(1, 4, size=n)))
    owners = np.array(owners)
    dense = rng.normal(size=(len(owners), 4)).astype(np.float32)
    samples = list(labels)
    return owners, dense, np.array(bins), samples, np.array([labels[s] for s in samples])


def test_the_position_embedding_types_samples_that_differ_only_in_position():
    settings = DnaSetModelParams(width=16, layers=1, heads=2, epochs=30, batch_size=8, train_variants=16)
    owners, dense, bins, samples, y = _position_cohort(12, 0)
    accuracy = {}
    for name, ids in (("without", {}), ("with", {"position": bins})):
        sets = VariantSets.of(owners, dense, ids)
        train = (samples[::2], y[::2])
        val = (samples[1::4], y[1::4])
        test = samples[3::4]
        model, _ = fit_set_model(sets, train, val, 3, settings, seed=0)
        accuracy[name] = float((predict_sets(model, sets, test).argmax(1) == y[3::4]).mean())
    assert accuracy["with"] >= 0.9 and accuracy["without"] <= 0.6


def test_muat_tokens_are_the_catalogues_classes_and_bins():
    table = pd.DataFrame(
        {
            "sample_id": ["a", "a", "b", "b", "b"],
            "chrom": ["chr1", "chr1", "chr2", "chr1", "chr1"],
            "start": [10, 1_500_000, 999_999, 2_000_000, 7],
            "ref": ["C", "CA", "A", "AT", "T"],
            "alt": ["T", "TG", "AGG", "A", "G"],
            "type": ["SNV", "DBS", "INS", "DEL", "SNV"],
            "sbs96": ["A[C>T]G", None, None, None, None],
        }
    )
    assert motifs(table).tolist() == ["A[C>T]G", "DBS:CA>TG", "INS:2", "DEL:1", "SNV:unclassified"]
    assert positions(table).tolist() == ["chr1:0", "chr1:1", "chr2:0", "chr1:2", "chr1:0"]
    train = np.array([True, True, False, False, True])
    ids = muat_ids(table, train)
    assert ids["position"].tolist() == [1, 2, 0, 0, 1]  # bins first seen outside training: 0
    assert (ids["motif"][train] > 0).all() and (ids["motif"][~train] == 0).all()
    assert "position" not in muat_ids(table, train, position=False)
    assert vocabulary_ids(np.array(["x", "y", "x"]), np.array([True, False, False])).tolist() == [1, 0, 1]
