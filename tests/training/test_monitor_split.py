"""What early stopping and the best-checkpoint choice watch: the val split for one model, each member's
held-out fold of the training split for an ensemble; never the test split."""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from oncofusion.config import parse_params
from oncofusion.models.classifier import FusionClassifier
from oncofusion.training.data import cohort_tensors
from oncofusion.training.train import fit

from .conftest import small_training_params


class StoppingRows(Callback):
    """The sample IDs each fit validates on (what its monitor, early stopping and checkpoints see)."""

    def __init__(self) -> None:
        self.fits: list[list[str]] = []

    def on_fit_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.fits.append([])

    def on_validation_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.fits[-1] = list(trainer.datamodule.val_data.sample_ids)


def _ids(cohort, split: str) -> set[str]:
    return set(cohort.labels.loc[cohort.labels["split"] == split, "sample_id"])


def _nll(module: FusionClassifier, data) -> float:
    with torch.no_grad():
        logits = module.eval()(data.inputs, data.present).logits
    return float(torch.nn.functional.cross_entropy(logits.float(), data.target))


def test_one_model_stops_and_checkpoints_on_the_val_split(split_cohort, tmp_path: Path):
    params = parse_params(small_training_params(max_epochs=6, pretrain_epochs=1))
    rows = StoppingRows()
    result = fit(split_cohort, params, tmp_path, callbacks=[rows])

    assert len(rows.fits) == 1
    assert set(rows.fits[0]) == _ids(split_cohort, "val")
    assert not set(rows.fits[0]) & _ids(split_cohort, "test")
    # The best checkpoint's recorded score is its log-loss on the val split (monitor: val_loss), and
    # not on the test split, where the same weights score recognisably differently.
    best = FusionClassifier.load_from_checkpoint(result.best_checkpoint, map_location="cpu")
    names = best.net.names
    on_val = _nll(best, cohort_tensors(split_cohort, names, "val"))
    on_test = _nll(best, cohort_tensors(split_cohort, names, "test"))
    assert abs(on_val - on_test) > 1e-3  # the check below can tell the two splits apart
    assert result.members[0].best_score == pytest.approx(on_val, rel=1e-5)


def test_ensemble_members_stop_on_their_held_out_folds(split_cohort, tmp_path: Path):
    params = parse_params(small_training_params(max_epochs=3, pretrain_epochs=1, ensemble={"folds": 2}))
    rows = StoppingRows()
    fit(split_cohort, params, tmp_path, callbacks=[rows])  # callbacks: members train in this process

    train = _ids(split_cohort, "train")
    assert len(rows.fits) == 2
    for held_out in rows.fits:
        assert set(held_out) < train  # a fold of the training split, never val or test
    assert set(rows.fits[0]).isdisjoint(rows.fits[1])
    assert set(rows.fits[0]) | set(rows.fits[1]) == train
