"""The fitted input transforms must come from the training split alone: a test that catches leakage."""

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from oncofusion.cohort import Cohort, CohortMeta, Domain, ModalitySpec
from oncofusion.config import parse_params
from oncofusion.training.train import fit

from .conftest import small_training_params


def _cohort(transform: str) -> Cohort:
    rng = np.random.default_rng(0)
    n = 90
    split = np.array(["train"] * 60 + ["val"] * 15 + ["test"] * 15)
    labels = pd.DataFrame(
        {"sample_id": [f"S{i}" for i in range(n)], "label": ["A", "B", "C"] * 30, "split": split}
    )
    values = rng.gamma(2.0, 1.0, size=(n, 6)).astype(np.float32)
    values[:60, 0] *= 20.0  # in training, feature 0 varies most
    values[60:, 5] = rng.gamma(2.0, 1000.0, size=30)  # val/test would make feature 5 win
    frame = pd.DataFrame(
        values, columns=[f"g{j}" for j in range(6)], index=pd.Index(labels["sample_id"], name="sample_id")
    )
    spec = ModalitySpec(
        file="rna.parquet",
        features=list(frame.columns),
        domain=Domain(min=0.0),
        kind="tabular",
        transform=transform,
        top_k=1,
    )
    meta = CohortMeta(name="leak", classes=["A", "B", "C"], modalities={"rna": spec})
    return Cohort(meta, labels, {"rna": frame})


def test_top_k_and_transform_statistics_are_fitted_on_train_only(tmp_path: Path):
    cohort = _cohort("zscore")
    params = parse_params(small_training_params())
    result = fit(cohort, params, tmp_path, trainer_overrides={"fast_dev_run": True})
    pre = result.module.net.preprocess["rna"]
    assert pre.keep.tolist() == [0]  # all rows would have chosen feature 5
    train = cohort.modalities["rna"].iloc[:60].to_numpy()
    torch.testing.assert_close(pre.raw_mean, torch.from_numpy(train.mean(axis=0)), rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(pre.center, pre.raw_mean)
    torch.testing.assert_close(pre.spread, torch.from_numpy(train.std(axis=0, ddof=1)), rtol=1e-4, atol=1e-4)
    scaled_mean = result.module.net.mean_rna
    expected = ((train[:, [0]] - train[:, 0].mean()) / train[:, 0].std(ddof=1)).mean(axis=0)
    torch.testing.assert_close(scaled_mean, torch.from_numpy(expected).float(), atol=1e-4, rtol=0)


def test_log1p_model_takes_raw_values(tmp_path: Path):
    cohort = _cohort("log1p")
    params = parse_params(small_training_params())
    result = fit(cohort, params, tmp_path, trainer_overrides={"fast_dev_run": True})
    arch = result.module.net.arch.modalities[0]
    assert (arch.n_inputs, arch.n_features, arch.transform) == (6, 1, "log1p")
    train = np.log1p(cohort.modalities["rna"].iloc[:60, 0].to_numpy())
    torch.testing.assert_close(result.module.net.mean_rna, torch.tensor([train.mean()], dtype=torch.float32))


def test_a_modality_without_training_samples_is_refused(tmp_path: Path):
    import pytest

    from oncofusion.errors import ConfigError

    cohort = _cohort("none")
    frame = cohort.modalities["rna"]
    cohort.modalities["rna"] = frame[
        ~frame.index.isin(cohort.labels.loc[cohort.labels["split"] == "train", "sample_id"])
    ]
    with pytest.raises(ConfigError, match=r"fewer than 2 training samples: rna \(0\)"):
        fit(cohort, parse_params(small_training_params()), tmp_path, trainer_overrides={"fast_dev_run": True})
