from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from oncofusion.cohort import Cohort
from oncofusion.config import Params, parse_params
from oncofusion.data.split import stratified_split
from oncofusion.data.synthetic.omics.cohort import generate_cohort

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


def prepare_split_cohort(tmp_path: Path, raw: dict[str, Any]) -> tuple[Path, Path]:
    """params.yaml and a validated, split cohort directory under ``tmp_path``, made by the stages as
    the pipeline makes them, for tests that run the CLI in a real process."""
    import oncofusion.stages.cohort
    import oncofusion.stages.split
    import oncofusion.stages.validate  # noqa: F401
    from oncofusion import stages

    params = parse_params(raw)
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(params.model_dump(mode="json", by_alias=True)))
    stages.cohort.build_cohort(params, tmp_path / "cohort")
    stages.validate.validate(params, tmp_path / "cohort", tmp_path / "validation")
    stages.split.split(
        params, tmp_path / "cohort", tmp_path / "validation", tmp_path / "splits", tmp_path / "split.json"
    )
    return params_file, tmp_path / "splits"


def train_command(params_file: Path, splits: Path, out: Path, work: Path, *extra: str) -> list[str]:
    """`oncofusion train` as the DVC stage runs it, in a fresh interpreter."""
    return [
        sys.executable, "-m", "oncofusion.cli", "train",
        "--params", str(params_file), "--cohort", str(splits), "--out", str(out), "--work", str(work),
        *extra,
    ]  # fmt: skip
