"""The wide path's feature screen chooses its features on the training rows only: a feature that
predicts the class perfectly on validation or test rows, and is noise on training rows, stays out; the
same change on training rows brings it in. Trained through `fit`, as the train stage trains."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from oncofusion.cohort import Cohort
from oncofusion.config import Params, parse_params
from oncofusion.data.split import stratified_split
from oncofusion.data.synthetic.omics.cohort import generate_cohort
from oncofusion.training.train import TrainResult, fit

from .conftest import small_training_params

MODALITY = "methylation"


def _params() -> Params:
    # One model, one epoch: the screen runs before the first step. The wide path keeps its start
    # (wide_lr_scale 0), so its non-zero weights name the features the screen passed.
    return parse_params(
        small_training_params(
            max_epochs=1, progressive=False, wide_init="logistic", wide_screen_fdr=0.01, wide_lr_scale=0.0
        )
    )


@pytest.fixture(scope="module")
def cohort() -> Cohort:
    params = _params()
    made = generate_cohort(params.synthesize, seed=params.base.seed, name="tiny")
    return made.with_split(stratified_split(made.labels, params.split, seed=0))


def _noise_feature(cohort: Cohort) -> str:
    signal = set(cohort.meta.ground_truth["signal_features"][MODALITY])
    return next(f for f in cohort.meta.modalities[MODALITY].features if f not in signal)


def _kept(result: TrainResult, cohort: Cohort) -> set[tuple[str, str]]:
    """(modality, feature) pairs with a non-zero wide weight on the value or any of its bins, read from
    the wide-feature layout: per modality its values, then each value's bins; missing indicators last."""
    arch = result.net.arch
    weight = result.members[0].state_dict["wide.weight"].abs().sum(0).numpy()
    bins, offset, kept = arch.wide_bins, 0, set()
    for modality in arch.modalities:
        features = cohort.meta.modalities[modality.name].features
        n = modality.n_features
        assert n == len(features), "a transform or top_k changed the feature list; pick another modality"
        values = weight[offset : offset + n]
        binned = weight[offset + n : offset + n * (1 + bins)].reshape(n, bins).sum(1) if bins else 0 * values
        kept |= {(modality.name, features[j]) for j in np.flatnonzero(values + binned)}
        offset += n * (1 + bins)
    assert offset + len(arch.modalities) == len(weight)
    assert len(kept) == result.members[0].wide_start.kept
    return kept


def _train(cohort: Cohort, work: Path) -> set[tuple[str, str]]:
    return _kept(fit(cohort, _params(), work), cohort)


def _planted(cohort: Cohort, feature: str, partitions: set[str]) -> Cohort:
    """``feature`` set to the class on the measured rows of ``partitions``: 0, 10, 20… in class order,
    far outside the noise's range, so a screen that saw those rows could not miss the feature."""
    labels = cohort.labels.set_index("sample_id")
    rows = labels.index[labels["split"].isin(partitions)]
    table = cohort.modalities[MODALITY].copy()
    rows = [r for r in rows if np.isfinite(table.at[r, feature])]  # presence stays as it was
    class_value = {c: 10.0 * i for i, c in enumerate(cohort.classes)}
    table.loc[rows, feature] = labels.loc[rows, "label"].map(class_value).to_numpy(dtype=np.float32)
    return dataclasses.replace(cohort, modalities={**cohort.modalities, MODALITY: table})


@pytest.fixture(scope="module")
def baseline(cohort: Cohort, tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, str]]:
    kept = _train(cohort, tmp_path_factory.mktemp("baseline"))
    assert kept, "the screen passed no feature at all: nothing to compare"
    assert (MODALITY, _noise_feature(cohort)) not in kept
    return kept


def test_wide_screen_ignores_a_feature_predictive_only_on_val_and_test_rows(
    cohort: Cohort, baseline: set[tuple[str, str]], tmp_path: Path
):
    feature = _noise_feature(cohort)
    assert _train(_planted(cohort, feature, {"val", "test"}), tmp_path) == baseline


def test_wide_screen_keeps_the_same_feature_made_predictive_on_training_rows(
    cohort: Cohort, baseline: set[tuple[str, str]], tmp_path: Path
):
    feature = _noise_feature(cohort)
    kept = _train(_planted(cohort, feature, {"train"}), tmp_path)
    assert (MODALITY, feature) in kept and (MODALITY, feature) not in baseline
