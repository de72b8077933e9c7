import pandas as pd
import pytest

from oncofusion.config import SplitParams
from oncofusion.data.split import split_assignment
from oncofusion.errors import SplitError


def _labels(split: list[str] | None) -> pd.DataFrame:
    labels = pd.DataFrame({"sample_id": [f"S{i}" for i in range(20)], "label": ["A"] * 12 + ["B"] * 8})
    if split is not None:
        labels["split"] = split
    return labels


def test_a_complete_split_column_is_used_as_given():
    given = (["train"] * 8 + ["val", "val", "test", "test"]) + (
        ["train"] * 4 + ["val", "val", "test", "test"]
    )
    assignment, how = split_assignment(_labels(given), SplitParams(), seed=0)
    assert assignment.tolist() == given and "split column" in how


def test_train_test_only_gets_a_seeded_stratified_validation_carve():
    given = ["train"] * 10 + ["test"] * 2 + ["train"] * 6 + ["test"] * 2
    first, how = split_assignment(_labels(given), SplitParams(), seed=3)
    second, _ = split_assignment(_labels(given), SplitParams(), seed=3)
    assert first.tolist() == second.tolist() and "carved" in how
    labels = _labels(given).assign(new=first.to_numpy())
    assert (labels.loc[labels["split"] == "test", "new"] == "test").all()  # test is never touched
    per_class = labels[labels["new"] == "val"].groupby("label").size()
    assert per_class["A"] >= 1 and per_class["B"] >= 1  # every class is in validation
    assert per_class.sum() == round(10 * 0.15 / 0.85) + round(6 * 0.15 / 0.85)


def test_no_split_column_means_a_stratified_split():
    assignment, how = split_assignment(_labels(None), SplitParams(), seed=0)
    assert set(assignment) == {"train", "val", "test"} and "stratified" in how


def test_an_incomplete_split_column_is_an_error():
    with pytest.raises(SplitError, match=r"holds \['train', 'val'\]"):
        split_assignment(_labels(["train"] * 15 + ["val"] * 5), SplitParams(), seed=0)


def test_the_carved_share_is_val_over_train_plus_val():
    labels = pd.DataFrame(
        {
            "sample_id": [f"S{i}" for i in range(50)],
            "label": ["A"] * 50,
            "split": ["train"] * 40 + ["test"] * 10,
        }
    )
    assignment, _ = split_assignment(labels, SplitParams(train=0.7, val=0.15, test=0.15), seed=1)
    assert (assignment == "val").sum() == round(40 * 0.15 / 0.85) == 7  # 0.15 × 40 would give 6


def test_a_class_without_training_samples_is_an_error_and_gaps_elsewhere_are_named():
    given = ["train"] * 10 + ["val", "test"] + ["test"] * 8  # class B never in train
    with pytest.raises(SplitError, match=r"classes \['B'\] have no training samples"):
        split_assignment(_labels(given), SplitParams(), seed=0)
    given = ["train"] * 10 + ["val", "test"] + ["train"] * 7 + ["test"]  # class B never in val
    _, how = split_assignment(_labels(given), SplitParams(), seed=0)
    assert "B (no val)" in how
