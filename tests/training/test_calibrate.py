"""Calibration of a trained ensemble on its val split: the temperature is bounded, the sets are fitted on
what the served model computes."""

from __future__ import annotations

import numpy as np
import torch

from oncofusion.config import CalibrationParams
from oncofusion.models.network import EnsembleNet
from oncofusion.training.calibrate import MIN_TEMPERATURE, calibrate
from oncofusion.training.data import CohortTensors

from ..conftest import tabular_arch


def _separable(n: int = 40) -> tuple[EnsembleNet, CohortTensors]:
    """A one-member ensemble whose logits are its wide path's: class 1 iff x0 > 0, with a wide margin."""
    arch = tabular_arch(n_features=2, n_classes=2)
    torch.manual_seed(0)
    net = EnsembleNet(arch, n_members=1).eval()
    member = net.members[0]
    with torch.no_grad():
        member.head[-1].weight.zero_()
        member.head[-1].bias.zero_()
        member.wide.weight.zero_()
        member.wide.weight[1, 0] = 3.0
    sign = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    x = torch.tensor(np.stack([sign * 2.0, np.zeros(n)], axis=1), dtype=torch.float32)
    data = CohortTensors(
        [f"S{i}" for i in range(n)],
        {"x": x},
        torch.ones(n, 1, dtype=torch.bool),
        torch.tensor((sign > 0).astype(int)),
    )
    return net, data


def test_a_separable_val_split_cannot_drive_the_temperature_to_zero():
    net, val = _separable()
    result = calibrate(net, val, ["a", "b"], CalibrationParams(coverage=0.9))
    assert result.temperature == MIN_TEMPERATURE
    assert result.val["temperature_fitted"] < MIN_TEMPERATURE  # recorded: the fit ran into the bound
    assert float(net.temperature) == MIN_TEMPERATURE
    assert result.val_f1_macro == 1.0


def test_sets_fitted_on_val_cover_val_as_the_served_model_computes_them():
    net, val = _separable()
    result = calibrate(net, val, ["a", "b"], CalibrationParams(coverage=0.8, class_conditional="never"))
    with torch.no_grad():
        served = net(val.inputs, val.present).logits.float().softmax(dim=-1).numpy()
    sets = result.conformal.predict_sets(served)
    assert sets[np.arange(len(val)), val.target.numpy()].mean() >= 0.8


def test_temperature_off_leaves_the_logits_alone():
    net, val = _separable()
    result = calibrate(net, val, ["a", "b"], CalibrationParams(temperature=False, coverage=None))
    assert result.temperature == 1.0 and result.conformal is None and float(net.temperature) == 1.0
