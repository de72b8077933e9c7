from pathlib import Path

import pytest
import torch
from lightning.pytorch.callbacks import Callback

from oncofusion.config import parse_params
from oncofusion.errors import ConfigError
from oncofusion.training.train import fit, resolve_architecture

from .conftest import small_training_params


def test_fast_dev_run(split_cohort, train_params, tmp_path: Path):
    result = fit(split_cohort, train_params, tmp_path, trainer_overrides={"fast_dev_run": True})
    assert result.module.net.names == ["methylation", "fragmentomics", "cna"]
    assert [m.encoder for m in result.module.architecture.modalities] == ["mlp", "cnn", "cnn_gru"]


def test_training_learns_and_checkpoints(split_cohort, tmp_path: Path):
    raw = small_training_params(max_epochs=12, pretrain_epochs=2)
    raw["model"]["wide"] = False  # the transformer alone (a wide path starts from a fitted regression)
    params = parse_params(raw)
    result = fit(split_cohort, params, tmp_path)
    assert (tmp_path / "checkpoints" / "last.ckpt").exists()
    assert result.best_checkpoint.name == "best.ckpt"
    assert result.best_checkpoint.exists()
    losses = [row["train/loss"] for row in result.history if "train/loss" in row]
    assert losses[-1] < losses[0]
    # Pre-training epochs log only the per-encoder loss; joint epochs the fused loss terms.
    assert "train/loss_pretrain" in result.history[0] and "train/loss" not in result.history[0]
    assert result.best_val_f1 > 0.4  # three classes: chance is about 0.33


def test_cpu_training_is_deterministic(split_cohort, train_params, tmp_path: Path):
    first = fit(split_cohort, train_params, tmp_path / "a").module.net.state_dict()
    second = fit(split_cohort, train_params, tmp_path / "b").module.net.state_dict()
    for key in first:
        torch.testing.assert_close(first[key], second[key], msg=key)


class EpochsRun(Callback):
    """The epochs each fit actually trains."""

    def __init__(self) -> None:
        self.epochs: list[list[int]] = []

    def on_fit_start(self, trainer, module) -> None:
        self.epochs.append([])

    def on_train_epoch_start(self, trainer, module) -> None:
        self.epochs[-1].append(trainer.current_epoch)


def test_resume_continues_from_the_last_checkpoint(split_cohort, tmp_path: Path):
    short = parse_params(small_training_params(max_epochs=3))
    fit(split_cohort, short, tmp_path)
    longer = parse_params(small_training_params(max_epochs=5, early_stopping_patience=50))
    ran = EpochsRun()
    resumed = fit(split_cohort, longer, tmp_path, resume=True, callbacks=[ran])
    assert ran.epochs == [[3, 4]]  # only the new epochs ran
    assert [row["epoch"] for row in resumed.history] == [0, 1, 2, 3, 4]  # the history carries over
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)
    assert checkpoint["epoch"] == 4


@pytest.mark.parametrize(
    ("section", "changes", "message"),
    [
        ("model", {"modalities": ["rna"]}, "model.modalities: ['rna'] not in the cohort"),
        ("model", {"encoders": {"rna": "mlp"}}, "model.encoders: ['rna'] are not modalities"),
        ("train", {"focal_alpha": [1.0, 2.0]}, "train.focal_alpha has 2 values but the cohort has 3 classes"),
    ],
)
def test_bad_requests_fail_before_training(split_cohort, section, changes, message):
    raw = small_training_params()
    raw[section].update(changes)
    with pytest.raises(ConfigError) as caught:
        resolve_architecture(split_cohort, parse_params(raw))
    assert message in str(caught.value)


def test_unknown_encoder_name_is_a_config_error():
    raw = small_training_params()
    raw["model"]["encoders"] = {"cna": "transformer"}
    with pytest.raises(ConfigError, match=r"model\.encoders\.cna"):
        parse_params(raw)


def test_class_without_training_samples_fails_at_start(split_cohort, train_params, tmp_path: Path):
    labels = split_cohort.labels.copy()
    labels.loc[(labels["label"] == "C") & (labels["split"] == "train"), "split"] = "val"
    split_cohort.labels = labels
    with pytest.raises(ConfigError, match=r"classes \['C'\] have no training samples"):
        fit(split_cohort, train_params, tmp_path)


def test_refit_trains_on_train_plus_val_for_a_fixed_epoch_count(split_cohort, tmp_path: Path):
    params = parse_params(
        small_training_params(
            max_epochs=5,
            early_stopping_patience=1,
            refit_on_train_val=True,
            calibration={"temperature": False, "coverage": None},
        )
    )
    result = fit(split_cohort, params, tmp_path)
    n_train = int((split_cohort.labels["split"] == "train").sum())
    n_val = int((split_cohort.labels["split"] == "val").sum())
    assert len(result.train_data) == n_train + n_val
    assert result.epochs == 5  # patience 1 would have stopped earlier; a refit has no held-out signal
    assert result.best_checkpoint.name == "last.ckpt"


def test_balanced_loss_monitor_weighs_classes_by_their_focal_alpha(split_cohort, tmp_path: Path):
    params = parse_params(small_training_params(max_epochs=3, monitor="val_balanced_loss"))
    result = fit(split_cohort, params, tmp_path)
    last = result.history[-1]
    assert {"val/nll", "val/nll_balanced", "val/nll_balanced_joint"} <= set(last)
    # The tiny cohort is imbalanced (50/30/20%): weighting by inverse frequency changes the loss.
    assert last["val/nll_balanced"] != last["val/nll"]
    assert result.members[0].best_score == min(r["val/nll_balanced_joint"] for r in result.history)


def test_a_frozen_wide_path_keeps_its_logistic_regression_start(split_cohort, tmp_path: Path):
    """train.wide_lr_scale 0 (the default): the transformer trains on top of the fitted regression,
    which stays exactly where it started; with a share of the learning rate it moves."""
    from oncofusion.training.wide_start import start_from_logistic_regression

    def trained_and_start(scale: float) -> tuple[torch.Tensor, torch.Tensor]:
        params = parse_params(small_training_params(max_epochs=3, wide_lr_scale=scale))
        result = fit(split_cohort, params, tmp_path / str(scale))
        net = result.net.members[0]
        trained = net.wide.weight.detach().clone()
        tp = params.train
        start_from_logistic_regression(
            net, result.train_data, params.base.seed, c=tp.wide_init_c, screen_fdr=tp.wide_screen_fdr
        )
        return trained, net.wide.weight.detach().clone()

    trained, start = trained_and_start(0.0)
    torch.testing.assert_close(trained, start)
    moved, start = trained_and_start(1.0)
    assert not torch.allclose(moved, start)
