"""The cross-validated ensemble: members stop on their own folds, never on the val split, which is kept
for calibration; bad requests fail before training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from oncofusion.cohort import Cohort
from oncofusion.config import parse_params
from oncofusion.errors import ConfigError
from oncofusion.models.bundle import LoadedModel
from oncofusion.training.train import fit, fold_indices

from .conftest import small_training_params
from .test_train import EpochsRun


def _ensemble_params(**train):
    return parse_params(small_training_params(ensemble={"folds": 3, "workers": 1}, **train))


def _scrambled_val(cohort: Cohort) -> Cohort:
    """The same cohort with every val sample's features replaced by noise and its label permuted."""
    rng = np.random.default_rng(0)
    val = cohort.labels["split"] == "val"
    labels = cohort.labels.copy()
    labels.loc[val, "label"] = rng.permutation(labels.loc[val, "label"].to_numpy())
    ids = labels.loc[val, "sample_id"]
    modalities = {}
    for name, table in cohort.modalities.items():
        table = table.copy()
        rows = table.index.isin(ids)
        table.loc[rows] = rng.permutation(table.loc[rows].to_numpy())
        modalities[name] = table
    return Cohort(cohort.meta, labels, modalities, cohort.annotations, cohort.sidecars)


def test_fold_indices_partition_the_training_split_by_class():
    target = torch.tensor([0] * 9 + [1] * 6 + [2] * 3)
    folds = fold_indices(target, 3, seed=0)
    held = np.concatenate([h for _, h in folds])
    assert sorted(held.tolist()) == list(range(len(target)))  # every sample held out exactly once
    for fit_rows, held_rows in folds:
        assert not set(fit_rows) & set(held_rows)
        assert sorted(target[held_rows].tolist()) == [0, 0, 0, 1, 1, 2]  # stratified


def test_members_never_train_or_stop_on_the_val_split(split_cohort, tmp_path: Path):
    """The key claim behind calibrating on val: scrambling val changes no member's weights."""
    params = _ensemble_params()
    first = fit(split_cohort, params, tmp_path / "a")
    second = fit(_scrambled_val(split_cohort), params, tmp_path / "b")
    assert len(first.members) == 3
    for a, b in zip(first.members, second.members, strict=True):
        for key in a.state_dict:
            torch.testing.assert_close(a.state_dict[key], b.state_dict[key], msg=key)
    # ... while the calibration, fitted on val, does see the change.
    assert first.calibration.temperature != second.calibration.temperature


def test_members_differ_and_the_ensemble_averages_them(split_cohort, tmp_path: Path):
    result = fit(split_cohort, _ensemble_params(), tmp_path)
    weights = [m.state_dict["head.2.weight"] for m in result.members]
    assert not torch.allclose(weights[0], weights[1])
    for i in range(3):  # each member checkpointed in its own directory
        assert (tmp_path / f"fold{i}" / "checkpoints" / "last.ckpt").exists()
    # Members share the preprocessing fitted on the whole training split.
    for member in result.net.members[1:]:
        torch.testing.assert_close(member.mean_methylation, result.net.members[0].mean_methylation)
    model = LoadedModel(result.net, split_cohort.classes, {}, conformal=result.calibration.conformal)
    assert model.conformal is not None and model.conformal.coverage == 0.9


def test_worker_processes_train_the_same_ensemble(split_cohort, tmp_path: Path):
    """Members trained in two worker processes: the same folds and seeds, so the same models up to the
    float reductions of another thread count."""
    one = fit(split_cohort, _ensemble_params(), tmp_path / "one")
    two = fit(
        split_cohort,
        parse_params(small_training_params(ensemble={"folds": 3, "workers": 2})),
        tmp_path / "two",
    )
    assert [m.index for m in two.members] == [0, 1, 2]
    assert [m.epochs for m in two.members] == [m.epochs for m in one.members]
    for a, b in zip(one.members, two.members, strict=True):
        torch.testing.assert_close(
            a.state_dict["head.2.weight"], b.state_dict["head.2.weight"], atol=1e-3, rtol=0
        )


def test_temperature_keeps_every_prediction_and_lowers_the_val_nll(split_cohort, tmp_path: Path):
    result = fit(split_cohort, _ensemble_params(max_epochs=8), tmp_path)
    report = result.calibration.val
    assert report["nll_after"] <= report["nll_before"]
    data = result.val_data
    with torch.no_grad():
        calibrated = result.net(data.inputs, data.present).logits
        result.net.temperature.fill_(1.0)
        raw = result.net(data.inputs, data.present).logits
    assert torch.equal(calibrated.argmax(1), raw.argmax(1))


def test_too_many_folds_for_a_class_fails_before_training(split_cohort, tmp_path: Path):
    params = parse_params(small_training_params(ensemble={"folds": 20}))
    with pytest.raises(ConfigError, match=r"train.ensemble.folds is 20 but these classes have fewer"):
        fit(split_cohort, params, tmp_path)
    assert not (tmp_path / "fold0").exists()


def test_calibration_on_a_val_split_missing_a_class_fails_before_training(split_cohort, tmp_path: Path):
    labels = split_cohort.labels.copy()
    lost = (labels["split"] == "val") & (labels["label"] == "C")
    labels.loc[lost, "split"] = "train"
    cohort = Cohort(split_cohort.meta, labels, split_cohort.modalities, split_cohort.annotations, {})
    with pytest.raises(ConfigError, match=r"val split, which has no samples of class\(es\) \['C'\]"):
        fit(cohort, _ensemble_params(), tmp_path)
    assert not any(tmp_path.iterdir())
    off = small_training_params(calibration={"temperature": False, "coverage": None})
    assert fit(cohort, parse_params(off), tmp_path).calibration.conformal is None


def test_resume_continues_started_members_and_starts_the_others(split_cohort, tmp_path: Path):
    """An ensemble cut while its third member had not started: resuming continues the first two from
    their last checkpoints and trains the third from scratch."""
    import shutil

    short = parse_params(small_training_params(max_epochs=3, ensemble={"folds": 3, "workers": 1}))
    fit(split_cohort, short, tmp_path)
    shutil.rmtree(tmp_path / "fold2")
    longer = parse_params(
        small_training_params(max_epochs=5, early_stopping_patience=50, ensemble={"folds": 3, "workers": 1})
    )
    ran = EpochsRun()
    resumed = fit(split_cohort, longer, tmp_path, resume=True, callbacks=[ran])
    assert ran.epochs == [[3, 4], [3, 4], [0, 1, 2, 3, 4]]  # the epochs each member trained now
    # Each member's history carries over from its checkpoint: all five epochs.
    assert [[row["epoch"] for row in m.history] for m in resumed.members] == [list(range(5))] * 3
    shutil.rmtree(tmp_path)
    with pytest.raises(ConfigError, match="--resume: no checkpoint"):
        fit(split_cohort, longer, tmp_path, resume=True)
