"""GPU path: skipped without CUDA (CI never has one); run on a GPU machine with `pytest -m gpu`.

What precision training ran in is observed, not assumed: a probe hooks a linear layer and records the
dtype and device of its outputs during training steps. A CPU test checks the probe itself can tell
bf16 autocast from float32, so the GPU test's bf16 assertion can fail.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback
from torch import nn

from oncofusion.config import parse_params
from oncofusion.training.train import fit

from .conftest import small_training_params


class PrecisionProbe(Callback):
    """Records the trainer's precision setting and what a linear layer actually computed in."""

    def __init__(self) -> None:
        self.precision: str | None = None
        self.dtypes: set[torch.dtype] = set()
        self.devices: set[str] = set()
        self.parameter_dtypes: set[torch.dtype] = set()
        self._handle: Any = None

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.precision = str(trainer.precision)
        layer = next(m for m in pl_module.modules() if isinstance(m, nn.Linear))
        self._handle = layer.register_forward_hook(self._record)

    def _record(self, module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        if module.training:  # training steps only; validation runs under the same autocast anyway
            self.dtypes.add(output.dtype)
            self.devices.add(output.device.type)
            self.parameter_dtypes.update(p.dtype for p in module.parameters())

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._handle.remove()


def test_the_precision_probe_tells_bf16_from_float32(split_cohort, tmp_path: Path):
    params = parse_params(small_training_params(accelerator="cpu", max_epochs=2))
    default, bf16 = PrecisionProbe(), PrecisionProbe()
    fit(split_cohort, params, tmp_path / "fp32", callbacks=[default])
    fit(
        split_cohort,
        params,
        tmp_path / "bf16",
        callbacks=[bf16],
        trainer_overrides={"precision": "bf16-mixed"},
    )
    assert default.precision == "32-true" and default.dtypes == {torch.float32}
    assert bf16.precision == "bf16-mixed" and bf16.dtypes == {torch.bfloat16}
    assert bf16.parameter_dtypes == {torch.float32}  # mixed: weights stay float32


@pytest.mark.gpu
def test_trains_on_the_gpu_in_bf16(split_cohort, tmp_path: Path):
    params = parse_params(small_training_params(accelerator="gpu", max_epochs=3))
    probe = PrecisionProbe()
    torch.cuda.reset_peak_memory_stats()
    result = fit(split_cohort, params, tmp_path, callbacks=[probe])
    assert torch.cuda.max_memory_allocated() > 0  # the data and model really lived on the GPU
    assert probe.devices == {"cuda"}
    # bf16 autocast on float32 weights: layers compute in bfloat16, the weights stay float32.
    assert probe.precision == "bf16-mixed" and probe.dtypes == {torch.bfloat16}
    assert probe.parameter_dtypes == {torch.float32}
    checkpoint = torch.load(result.best_checkpoint, weights_only=False, map_location="cpu")
    assert checkpoint["hyper_parameters"]["classes"] == ["A", "B", "C"]
    assert checkpoint["state_dict"] and all(
        v.dtype == torch.float32 for v in checkpoint["state_dict"].values() if v.is_floating_point()
    )
    assert math.isfinite(result.best_val_f1)  # bf16 training did not diverge
