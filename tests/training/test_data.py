"""In-memory batching: every sample once per epoch, and never a one-sample batch (BatchNorm)."""

from __future__ import annotations

import pytest
import torch

from oncofusion.training.data import CohortTensors, InMemoryBatches


def _tensors(n: int) -> CohortTensors:
    return CohortTensors(
        sample_ids=[f"s{i}" for i in range(n)],
        inputs={"m": torch.arange(n, dtype=torch.float32).unsqueeze(1)},
        present=torch.ones(n, 1, dtype=torch.bool),
        target=torch.zeros(n, dtype=torch.long),
    )


@pytest.mark.parametrize(
    ("n", "batch_size", "sizes"), [(33, 32, [33]), (65, 32, [32, 33]), (64, 32, [32, 32])]
)
def test_a_lone_last_sample_joins_the_batch_before(n: int, batch_size: int, sizes: list[int]):
    batches = InMemoryBatches(_tensors(n), batch_size, shuffle=True, seed=0, epoch=lambda: 0)
    assert len(batches) == len(sizes)
    seen = [batch["target"].shape[0] for batch in batches]
    assert seen == sizes
    values = torch.cat([batch["inputs"]["m"] for batch in batches]).flatten().sort().values
    assert values.tolist() == list(range(n))
