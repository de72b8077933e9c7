"""Shared fixtures: the real config schema, made small (the lightning-hydra-template habit)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from oncofusion.cohort import Cohort
from oncofusion.config import Params, parse_params
from oncofusion.data.synthetic.omics.cohort import generate_cohort
from oncofusion.models.network import Architecture, ModalityInput

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"


def tabular_arch(n_features: int, n_classes: int, wide: bool = True) -> Architecture:
    """A smallest network on one tabular modality named "x" (for tests of the wide path and calibration)."""
    return Architecture(
        modalities=[ModalityInput(name="x", kind="tabular", n_features=n_features, encoder="mlp")],
        n_classes=n_classes,
        d_model=8,
        n_heads=2,
        n_layers=1,
        hidden=8,
        wide=wide,
    )


def tiny_raw_params() -> dict[str, Any]:
    """A params.yaml mapping small enough for a test to generate, validate and split in about a second."""
    return {
        "base": {"seed": 7},
        "cohort": {"name": "tiny"},
        "synthesize": {
            "n_samples": 60,
            "classes": ["A", "B", "C"],
            "class_weights": [0.5, 0.3, 0.2],
            "methylation": {"n_features": 12, "n_informative": 6},
            "fragmentomics": {"min_length": 100, "max_length": 250, "bin_width": 10, "n_fragments": 2000},
            "cna": {"n_bins": 44},
        },
        "split": {"train": 0.6, "val": 0.2, "test": 0.2},
    }


@pytest.fixture
def tiny_params() -> Params:
    return parse_params(tiny_raw_params())


@pytest.fixture
def tiny_cohort(tiny_params: Params) -> Cohort:
    return generate_cohort(tiny_params.synthesize, seed=tiny_params.base.seed, name="tiny")


@pytest.fixture
def tiny_cohort_dir(tmp_path: Path, tiny_cohort: Cohort) -> Path:
    directory = tmp_path / "cohort"
    tiny_cohort.save(directory)
    return directory


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip `gpu` tests where CUDA is absent (CI never has a GPU); they still run on a GPU machine."""
    gpu_items = [item for item in items if "gpu" in item.keywords]
    if not gpu_items:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in gpu_items:
        item.add_marker(skip)
