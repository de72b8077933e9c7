import pandas as pd
import pytest

from oncofusion.config import SplitParams
from oncofusion.data.split import class_counts, resplit, split_assignment, split_summary, stratified_split
from oncofusion.errors import SplitError


def _labels(counts: dict[str, int]) -> pd.DataFrame:
    labels = [label for label, n in counts.items() for _ in range(n)]
    return pd.DataFrame({"sample_id": [f"s{i}" for i in range(len(labels))], "label": labels})


def test_split_is_complete_disjoint_and_stratified():
    labels = _labels({"A": 350, "B": 250, "C": 80})
    split = stratified_split(labels, SplitParams(), seed=0)
    assert split.index.tolist() == labels["sample_id"].tolist()
    assert split.value_counts().to_dict() == {"train": 476, "val": 102, "test": 102}

    table = pd.crosstab(split.values, labels["label"].values, normalize="index")
    overall = labels["label"].value_counts(normalize=True)
    for part in ("train", "val", "test"):
        for label in ("A", "B", "C"):
            assert table.loc[part, label] == pytest.approx(overall[label], abs=0.02)


def test_split_is_seeded():
    labels = _labels({"A": 40, "B": 30})
    first = stratified_split(labels, SplitParams(), seed=5)
    assert first.equals(stratified_split(labels, SplitParams(), seed=5))
    assert not first.equals(stratified_split(labels, SplitParams(), seed=6))


def test_rare_class_reaches_every_partition():
    labels = _labels({"A": 100, "B": 3})
    split = stratified_split(labels, SplitParams(), seed=0)
    rare = split[labels.loc[labels.label == "B", "sample_id"]]
    assert sorted(rare) == ["test", "train", "val"]


def test_too_few_samples_of_a_class_is_a_clear_error():
    with pytest.raises(SplitError, match=r"too few: B \(2\)"):
        stratified_split(_labels({"A": 30, "B": 2}), SplitParams(), seed=0)


def test_summary_counts_per_partition_and_class():
    labels = _labels({"A": 30, "B": 20})
    labels["split"] = stratified_split(labels, SplitParams(), seed=1).to_numpy()
    summary = split_summary(labels)
    assert summary["n_train"] + summary["n_val"] + summary["n_test"] == 50
    assert sum(class_counts(labels)["test"].values()) == summary["n_test"]
    assert summary["min_class_count"] >= 1


def _abc(n: int = 90) -> pd.DataFrame:
    return pd.DataFrame({"sample_id": [f"S{i}" for i in range(n)], "label": ["A", "B", "C"] * (n // 3)})


def test_resplit_redraws_a_drawn_split_per_seed():
    labels = _abc()
    first, how = split_assignment(labels, SplitParams(), seed=1)
    split = labels.assign(split=labels["sample_id"].map(first))
    same = resplit(split, how, SplitParams(), seed=1)
    other = resplit(split, how, SplitParams(), seed=2)
    assert same.equals(first)
    assert not other.equals(first) and other.value_counts().to_dict() == first.value_counts().to_dict()


def test_resplit_keeps_a_given_test_set_and_recarves_validation():
    labels = _abc().assign(split=["train"] * 60 + ["test"] * 30)
    first, how = split_assignment(labels, SplitParams(), seed=1)
    split = labels.assign(split=labels["sample_id"].map(first))
    other = resplit(split, how, SplitParams(), seed=2)
    assert (other[first == "test"] == "test").all() and (first[other == "test"] == "test").all()
    assert not other.equals(first) and (other == "val").sum() == (first == "val").sum()


def test_resplit_keeps_a_fully_given_split():
    labels = _abc().assign(split=["train"] * 50 + ["val"] * 10 + ["test"] * 30)
    first, how = split_assignment(labels, SplitParams(), seed=1)
    split = labels.assign(split=labels["sample_id"].map(first))
    assert resplit(split, how, SplitParams(), seed=5).equals(first)
