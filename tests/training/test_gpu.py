"""GPU path: skipped without CUDA (CI never has one); run on a GPU machine with `pytest -m gpu`."""

import math
from pathlib import Path

import pytest
import torch

from oncofusion.config import parse_params
from oncofusion.training.train import fit

from .conftest import small_training_params


@pytest.mark.gpu
def test_trains_on_the_gpu_in_bf16(split_cohort, tmp_path: Path):
    params = parse_params(small_training_params(accelerator="gpu", max_epochs=3))
    torch.cuda.reset_peak_memory_stats()
    result = fit(split_cohort, params, tmp_path)
    assert torch.cuda.max_memory_allocated() > 0  # the data and model really lived on the GPU
    checkpoint = torch.load(result.best_checkpoint, weights_only=False, map_location="cpu")
    assert checkpoint["hyper_parameters"]["classes"] == ["A", "B", "C"]
    assert math.isfinite(result.best_val_f1)  # bf16 training did not diverge
