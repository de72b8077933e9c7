"""The Lightning callbacks every member's fit runs with, beyond Lightning's own: the per-epoch history
and the per-epoch reseeding that makes a resumed run end with the uninterrupted run's weights."""

from __future__ import annotations

import random
from typing import Any

import lightning.pytorch as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback


class History(Callback):
    """Per-epoch metrics, for the training-curve plot and the ensemble members' MLflow curves.

    The rows travel in the checkpoint, so a resumed fit's history starts at epoch 0, not at the resume.
    """

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        # Runs after the epoch's validation and before the checkpoints are written (Lightning calls the
        # checkpoint callbacks last), so the row holds train and val metrics of the same epoch and is in
        # that epoch's checkpoint.
        row = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
        if not getattr(module, "pretraining", False):
            # callback_metrics keeps a metric's last value after it stops being logged: the pre-training
            # loss is not a joint epoch's (and a resumed process would not hold it).
            row.pop("train/loss_pretrain", None)
        row["epoch"] = trainer.current_epoch
        self.rows.append(row)

    def state_dict(self) -> dict[str, Any]:
        return {"rows": self.rows}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.rows = list(state_dict["rows"])


def epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch) % 2**32


class EpochSeeds(Callback):
    """Reseed torch, NumPy and ``random`` at each epoch's start from (seed, epoch).

    Dropout, modality dropout and input noise draw from the global generators, whose state is not in a
    checkpoint: without this, a run resumed at epoch k would draw other numbers than the uninterrupted
    run drew there, and end with other weights.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        value = epoch_seed(self.seed, trainer.current_epoch)
        torch.manual_seed(value)
        np.random.seed(value)
        random.seed(value)
