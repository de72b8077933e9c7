"""`fit(resume=True)` after a cut ends with the model an uninterrupted fit ends with, in one process.

The fast counterpart of test_resume.py (real processes, SIGKILL, MLflow): here the cut is an exception
raised at an epoch's start, after the previous epoch's checkpoint was written. In one process the global
generators carry on from the cut run, so only the per-epoch reseeding makes the resumed epochs draw the
dropout masks the uninterrupted run drew.
"""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from oncofusion.cohort import Cohort
from oncofusion.config import parse_params
from oncofusion.training.train import fit

from .conftest import small_training_params

MAX_EPOCHS = 3
CUT_AT = 1  # epoch 0 (pre-training) is checkpointed; the resume trains the joint epochs 1 and 2


class Cut(Exception):
    pass


class CutAtEpochStart(Callback):
    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if trainer.current_epoch == CUT_AT:
            raise Cut(f"cut at the start of epoch {CUT_AT}")


def test_resumed_fit_ends_with_the_weights_of_an_uninterrupted_fit(split_cohort: Cohort, tmp_path: Path):
    raw = small_training_params(max_epochs=MAX_EPOCHS, pretrain_epochs=1, early_stopping_patience=MAX_EPOCHS)
    raw["model"]["dropout"] = 0.2  # randomness in every epoch, which the resumed epochs must redraw
    params = parse_params(raw)

    straight = fit(split_cohort, params, tmp_path / "straight")
    with pytest.raises(Cut):
        fit(split_cohort, params, tmp_path / "cut", callbacks=[CutAtEpochStart()])
    assert (tmp_path / "cut" / "checkpoints" / "last.ckpt").exists()
    resumed = fit(split_cohort, params, tmp_path / "cut", resume=True)

    assert straight.epochs == resumed.epochs == MAX_EPOCHS
    want, got = straight.net.state_dict(), resumed.net.state_dict()
    assert got.keys() == want.keys()
    differing = [key for key, value in want.items() if not torch.equal(got[key], value)]
    assert not differing, f"weights differ after the resume: {differing[:10]}"
    assert resumed.members[0].history == straight.members[0].history
    assert resumed.members[0].best_score == straight.members[0].best_score
    assert resumed.calibration.to_dict() == straight.calibration.to_dict()
