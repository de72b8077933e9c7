from __future__ import annotations

from typing import Any

import pytest

from oncofusion.cohort import Cohort
from oncofusion.config import Params, parse_params
from oncofusion.data.split import stratified_split
from oncofusion.data.synthetic import generate_cohort

from ..conftest import tiny_raw_params


def small_training_params(**train: Any) -> dict[str, Any]:
    raw = tiny_raw_params()
    raw["synthesize"]["n_samples"] = 120
    raw["model"] = {"d_model": 16, "n_heads": 2, "n_layers": 1, "hidden": 16, "channels": 4, "gru_hidden": 4}
    # One model (no cross-validated ensemble) unless a test asks for members: most tests here are about
    # one Lightning fit; tests/training/test_ensemble.py covers the members.
    raw["train"] = {
        "max_epochs": 4,
        "pretrain_epochs": 1,
        "batch_size": 32,
        "warmup_epochs": 1,
        "ensemble": {"folds": 1},
        **train,
    }
    raw["evaluate"] = {"top_k": 5}
    raw["tune"] = {
        "n_trials": 2,
        "max_epochs": 3,
        "pruner_warmup_epochs": 1,
        "search_space": {"dropout": {"type": "float", "low": 0.0, "high": 0.3}},
    }
    return raw


@pytest.fixture
def train_params() -> Params:
    return parse_params(small_training_params())


@pytest.fixture
def split_cohort(train_params: Params) -> Cohort:
    cohort = generate_cohort(train_params.synthesize, seed=train_params.base.seed, name="tiny")
    return cohort.with_split(stratified_split(cohort.labels, train_params.split, seed=0))
