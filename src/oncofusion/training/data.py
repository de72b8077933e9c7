"""Cohort → tensors, held whole on the training device.

A cohort of a few thousand samples × a few hundred features is a few MB: copying it to the GPU once
and slicing batches there removes the per-batch DataLoader and host-to-device overhead entirely.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import lightning.pytorch as L
import numpy as np
import torch

from oncofusion.cohort import Cohort
from oncofusion.errors import CohortError


@dataclass
class CohortTensors:
    sample_ids: list[str]
    inputs: dict[str, torch.Tensor]  # (samples, features) float32; absent modality rows are NaN
    present: torch.Tensor  # (samples, modalities) bool
    target: torch.Tensor  # (samples,) int64

    def __len__(self) -> int:
        return len(self.sample_ids)

    def to(self, device: torch.device | str) -> CohortTensors:
        return CohortTensors(
            self.sample_ids,
            {k: v.to(device) for k, v in self.inputs.items()},
            self.present.to(device),
            self.target.to(device),
        )

    def batch(self, rows: torch.Tensor) -> dict[str, Any]:
        return {
            "inputs": {k: v[rows] for k, v in self.inputs.items()},
            "present": self.present[rows],
            "target": self.target[rows],
        }


def concat(first: CohortTensors, second: CohortTensors) -> CohortTensors:
    return CohortTensors(
        first.sample_ids + second.sample_ids,
        {k: torch.cat([first.inputs[k], second.inputs[k]]) for k in first.inputs},
        torch.cat([first.present, second.present]),
        torch.cat([first.target, second.target]),
    )


def subset(data: CohortTensors, rows: np.ndarray) -> CohortTensors:
    index = torch.as_tensor(rows, dtype=torch.long)
    return CohortTensors(
        [data.sample_ids[i] for i in rows.tolist()],
        {k: v[index] for k, v in data.inputs.items()},
        data.present[index],
        data.target[index],
    )


def cohort_tensors(cohort: Cohort, modalities: list[str], split: str | None = None) -> CohortTensors:
    labels = cohort.labels
    if split is not None:
        if "split" not in labels.columns:
            raise CohortError("the cohort has no split column; run the split stage first")
        labels = labels[labels["split"] == split]
    ids = labels["sample_id"].tolist()
    class_index = {c: i for i, c in enumerate(cohort.classes)}
    unknown = sorted(set(labels["label"]) - set(class_index))
    if unknown:
        raise CohortError(
            f"labels.parquet: labels {unknown} are not in cohort.json's classes {cohort.classes}"
        )
    inputs, present = {}, []
    for name in modalities:
        table = cohort.modalities[name]
        aligned = table.reindex(ids)
        present.append(
            torch.from_numpy(np.asarray(aligned.notna().any(axis=1).to_numpy() & np.isin(ids, table.index)))
        )
        inputs[name] = torch.from_numpy(aligned.to_numpy(dtype=np.float32, na_value=np.nan))
    return CohortTensors(
        sample_ids=ids,
        inputs=inputs,
        present=torch.stack(present, dim=1) if present else torch.zeros(len(ids), 0, dtype=torch.bool),
        target=torch.tensor([class_index[c] for c in labels["label"]], dtype=torch.long),
    )


class InMemoryBatches:
    """Batches sliced from device-resident tensors; the shuffle depends on (seed, epoch) only, so a
    resumed run sees the same order as an uninterrupted one."""

    def __init__(
        self, data: CohortTensors, batch_size: int, shuffle: bool, seed: int, epoch: Callable[[], int]
    ) -> None:
        self.data, self.batch_size, self.shuffle, self.seed, self.epoch = (
            data,
            batch_size,
            shuffle,
            seed,
            epoch,
        )

    def _bounds(self) -> list[tuple[int, int]]:
        n = len(self.data)
        starts = list(range(0, n, self.batch_size))
        bounds = [(s, min(s + self.batch_size, n)) for s in starts]
        if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < 2:  # BatchNorm cannot train on one sample
            last = bounds.pop()  # (popped first: with two batches, bounds[-2] would then be gone)
            bounds[-1] = (bounds[-1][0], last[1])
        return bounds

    def __len__(self) -> int:
        return len(self._bounds())

    def __iter__(self) -> Iterator[dict[str, Any]]:
        device = self.data.target.device
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch())
            order = torch.randperm(len(self.data), generator=generator).to(device)
        else:
            order = torch.arange(len(self.data), device=device)
        for start, stop in self._bounds():
            yield self.data.batch(order[start:stop])


class CohortDataModule(L.LightningDataModule):
    def __init__(self, train: CohortTensors, val: CohortTensors, batch_size: int, seed: int) -> None:
        super().__init__()
        self.train_data, self.val_data = train, val
        self.batch_size, self.seed = batch_size, seed

    def setup(self, stage: str) -> None:
        device = self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")
        self.train_data, self.val_data = self.train_data.to(device), self.val_data.to(device)

    def _epoch(self) -> int:
        return self.trainer.current_epoch if self.trainer is not None else 0

    def train_dataloader(self) -> InMemoryBatches:
        return InMemoryBatches(self.train_data, self.batch_size, True, self.seed, self._epoch)

    def val_dataloader(self) -> InMemoryBatches:
        return InMemoryBatches(self.val_data, max(self.batch_size, 512), False, self.seed, self._epoch)
