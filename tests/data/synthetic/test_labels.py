import numpy as np
import pytest

from oncofusion.data.synthetic.omics.labels import class_counts, draw_labels


@pytest.mark.parametrize(
    ("n", "proportions"),
    [(1000, [0.35, 0.25, 0.2, 0.12, 0.08]), (7, [0.5, 0.5]), (101, [1 / 3, 1 / 3, 1 / 3])],
)
def test_counts_are_exact_and_follow_the_imbalance(n, proportions):
    counts = class_counts(n, proportions)
    assert counts.sum() == n
    assert np.all(np.abs(counts - n * np.asarray(proportions)) < 1)


def test_labels_are_shuffled_and_seeded():
    first = draw_labels(200, [0.7, 0.3], np.random.default_rng(0))
    again = draw_labels(200, [0.7, 0.3], np.random.default_rng(0))
    np.testing.assert_array_equal(first, again)
    assert np.bincount(first).tolist() == [140, 60]
    assert not np.array_equal(first, np.sort(first))
