from pathlib import Path

import pandas as pd
import pytest

from oncofusion.cohort import Cohort, fingerprint, read_table
from oncofusion.errors import CohortError


def test_save_load_round_trip(tiny_cohort, tmp_path: Path):
    tiny_cohort.save(tmp_path / "c")
    loaded = Cohort.load(tmp_path / "c")
    assert loaded.meta == tiny_cohort.meta
    pd.testing.assert_frame_equal(loaded.labels, tiny_cohort.labels)
    for name, frame in tiny_cohort.modalities.items():
        pd.testing.assert_frame_equal(loaded.modalities[name], frame)


def test_failed_save_keeps_the_previous_cohort(tiny_cohort, tmp_path: Path):
    target = tmp_path / "c"
    tiny_cohort.save(target)
    before = fingerprint(target)
    broken = Cohort(
        tiny_cohort.meta, tiny_cohort.labels, {"methylation": tiny_cohort.modalities["methylation"]}
    )
    with pytest.raises(CohortError, match="declares table 'fragmentomics'"):
        broken.save(target)
    assert fingerprint(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]  # no staging leftovers


def test_with_split_requires_every_sample(tiny_cohort):
    partial = pd.Series({tiny_cohort.sample_ids[0]: "train"})
    with pytest.raises(CohortError, match="no partition"):
        tiny_cohort.with_split(partial)


def test_read_table_names_the_file(tmp_path: Path):
    empty = tmp_path / "x.parquet"
    empty.write_bytes(b"")
    with pytest.raises(CohortError, match=r"x\.parquet: file is empty"):
        read_table(empty)
    with pytest.raises(CohortError, match=r"y\.parquet: file is missing"):
        read_table(tmp_path / "y.parquet")


def test_load_reports_a_broken_cohort_json(tiny_cohort_dir: Path):
    (tiny_cohort_dir / "cohort.json").write_text('{"name": "x"}')
    with pytest.raises(CohortError, match=r"cohort\.json: does not follow the cohort contract"):
        Cohort.load(tiny_cohort_dir)
