"""Data-parallel (Lightning DDP) training of one model: each rank's share of every global batch, and
the check that the ranks ended with the same weights.

Every rank validates on the whole stopping set with the same weights (DDP broadcasts rank 0's BatchNorm
statistics at every forward, validation included), so early stopping and the checkpoint choice agree on
every rank; the final weights are compared anyway, because ranks that fell out of step would otherwise
go unnoticed.
"""

from __future__ import annotations

import hashlib
from typing import Any

import lightning.pytorch as L
import torch

from oncofusion.errors import OncofusionError
from oncofusion.training.data import CohortDataModule, InMemoryBatches


class TrainingFailed(OncofusionError):
    """Training a member failed in a way the run cannot go on from: a worker process training an
    ensemble member died (its log's tail is in the message), or the DDP ranks ended with different
    weights."""


class RankShardedBatches(InMemoryBatches):
    """The (seed, epoch)-ordered batches of :class:`InMemoryBatches`, each split across the DDP ranks:
    rank r takes rows r, r + world, … of every global batch, so one optimiser step sees the same
    ``batch_size`` samples as on one device."""

    def __init__(self, *args: Any, rank: int, world: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rank, self.world = rank, world

    def _bounds(self) -> list[tuple[int, int]]:
        n = len(self.data)
        bounds = [(s, min(s + self.batch_size, n)) for s in range(0, n, self.batch_size)]
        # BatchNorm cannot train on one sample: every rank's share of the last batch needs two.
        if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < 2 * self.world:
            last = bounds.pop()
            bounds[-1] = (bounds[-1][0], last[1])
        return bounds

    def __iter__(self) -> Any:
        for batch in super().__iter__():
            size = len(batch["target"])
            rows = torch.arange(self.rank, size, self.world, device=batch["target"].device)
            yield {
                "inputs": {k: v[rows] for k, v in batch["inputs"].items()},
                "present": batch["present"][rows],
                "target": batch["target"][rows],
            }


class RankShardedData(CohortDataModule):
    def train_dataloader(self) -> InMemoryBatches:
        trainer = self.trainer
        assert trainer is not None
        return RankShardedBatches(
            self.train_data,
            self.batch_size,
            True,
            self.seed,
            self._epoch,
            rank=trainer.global_rank,
            world=trainer.world_size,
        )


def weights_digest(module: torch.nn.Module) -> str:
    """SHA-256 of every parameter and buffer, in name order: equal digests mean bit-identical weights."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def rank_digests(trainer: L.Trainer, module: torch.nn.Module) -> list[str]:
    """Every rank's digest of its trained weights (one entry without DDP); differing ranks fail the run."""
    mine = weights_digest(module)
    if trainer.world_size < 2:
        return [mine]
    gathered: list[str | None] = [None] * trainer.world_size
    torch.distributed.all_gather_object(gathered, mine)
    digests = [str(d) for d in gathered]
    if len(set(digests)) > 1:
        raise TrainingFailed(
            f"the {trainer.world_size} DDP ranks ended with different weights ({digests}); "
            "the ranks fell out of step"
        )
    return digests
