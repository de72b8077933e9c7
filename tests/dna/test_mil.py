"""Attention pooling over a sample's variants stays inside the sample: another sample's variants and
the padding of a bag never move its vector."""

from __future__ import annotations

import numpy as np
import torch

from oncofusion.dna.mil import GatedAttentionMIL, bags


def test_a_sample_vector_reads_only_its_own_variants():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(9, 5)).astype(np.float32)
    owners = np.array(["a", "b", "a", "c", "b", "a", "c", "c", "c"])
    torch.manual_seed(0)
    model = GatedAttentionMIL(5, 8, 3).eval()
    x, present = bags(features, owners, ["a", "b", "c"])
    assert present.sum(1).tolist() == [3, 2, 4]
    with torch.no_grad():
        pooled, weights = model.pool(x, present)
        assert torch.allclose(weights.sum(1), torch.ones(3)) and (weights[~present] == 0).all()
        changed = features.copy()
        changed[owners == "c"] += 100.0  # another sample's variants, wildly different
        x2, present2 = bags(changed, owners, ["a", "b", "c"])
        again, _ = model.pool(x2, present2)
        assert torch.allclose(again[:2], pooled[:2]) and not torch.allclose(again[2], pooled[2])
        alone, _ = model.pool(*bags(features[owners == "b"], owners[owners == "b"], ["b"]))
        assert torch.allclose(alone[0], pooled[1], atol=1e-6)  # no padding, same vector
