"""The split stage's saved cohort: every sample once, in exactly one partition, and every modality table
keyed by those samples only. Read back from the files the stage wrote, as the train stage reads them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest

from oncofusion.cohort import LABELS_FILE, META_FILE, SPLITS, Cohort
from oncofusion.config import parse_params
from oncofusion.data.synthetic.omics.cohort import generate_cohort
from oncofusion.stages.split import split
from oncofusion.stages.validate import validate

from ..conftest import tiny_raw_params


@dataclasses.dataclass
class SplitRun:
    cohort: Cohort  # what went in
    out: Path  # the split stage's cohort directory
    metrics: dict  # split.json


def _given_split(n: int, given: str) -> list[str] | None:
    if given == "none":
        return None
    if given == "train/test":
        return ["test" if i % 5 == 0 else "train" for i in range(n)]
    return ["test" if i % 5 == 0 else "val" if i % 5 == 1 else "train" for i in range(n)]


# How the labels file arrives: no split column (a seeded stratified split), a file that gives
# train/test (validation is carved from train), or one that gives all three partitions.
@pytest.fixture(scope="module", params=["none", "train/test", "train/val/test"])
def split_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> SplitRun:
    root = tmp_path_factory.mktemp("split")
    params = parse_params(tiny_raw_params())
    cohort = generate_cohort(params.synthesize, seed=params.base.seed, name="tiny")
    given = _given_split(len(cohort.labels), request.param)
    if given is not None:
        cohort = dataclasses.replace(cohort, labels=cohort.labels.assign(split=given))
    cohort.save(root / "cohort")
    validate(params, root / "cohort", root / "validation")
    split(params, root / "cohort", root / "validation", root / "splits", root / "split.json")
    return SplitRun(cohort, root / "splits", json.loads((root / "split.json").read_text()))


def test_split_cohort_lists_each_sample_once_in_exactly_one_partition(split_run: SplitRun):
    labels = pd.read_parquet(split_run.out / LABELS_FILE)

    duplicated = labels.loc[labels["sample_id"].duplicated(keep=False), "sample_id"].tolist()
    assert not duplicated, f"samples listed more than once in labels.parquet: {duplicated}"
    assert sorted(labels["sample_id"]) == sorted(split_run.cohort.sample_ids)  # none dropped or added
    assert labels["split"].isin(SPLITS).all(), labels["split"].value_counts(dropna=False).to_dict()

    members = {part: set(labels.loc[labels["split"] == part, "sample_id"]) for part in SPLITS}
    assert all(members.values()), {part: len(ids) for part, ids in members.items()}
    for i, first in enumerate(SPLITS):
        for second in SPLITS[i + 1 :]:
            shared = members[first] & members[second]
            assert not shared, f"samples in both {first} and {second}: {sorted(shared)}"

    # The stage's metrics count the samples the files hold, each once.
    counts = {part: split_run.metrics[f"n_{part}"] for part in SPLITS}
    assert counts == {part: len(ids) for part, ids in members.items()}
    assert sum(counts.values()) == len(split_run.cohort.sample_ids)


def test_split_cohort_tables_hold_each_labelled_sample_at_most_once(split_run: SplitRun):
    labelled = set(pd.read_parquet(split_run.out / LABELS_FILE)["sample_id"])
    meta = json.loads((split_run.out / META_FILE).read_text())
    assert set(meta["modalities"]) == set(split_run.cohort.modalities)
    for name, spec in {**meta["modalities"], **meta["annotations"]}.items():
        index = pd.read_parquet(split_run.out / spec["file"]).index
        assert len(index) > 0, f"{spec['file']}: no rows"
        assert index.is_unique, f"{spec['file']}: rows repeated for {index[index.duplicated()].tolist()}"
        stray = sorted(set(index) - labelled)
        assert not stray, f"{name}: rows for samples labels.parquet does not list: {stray}"
