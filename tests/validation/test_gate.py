"""The planted-defect matrix: each defect must fail the gate, naming its file and column."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import oncofusion.stages.split
import oncofusion.stages.train
import oncofusion.stages.validate  # noqa: F401
from oncofusion import stages
from oncofusion.cohort import Cohort
from oncofusion.config import parse_params
from oncofusion.data.synthetic.omics.cohort import generate_cohort
from oncofusion.errors import CohortError
from oncofusion.validation import ValidationFailed, gate, run_gate

from ..conftest import tiny_raw_params


def _edit(directory: Path, file: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    path = directory / file
    change(pd.read_parquet(path)).to_parquet(path)


def beta_out_of_range(d: Path) -> None:
    _edit(
        d,
        "methylation.parquet",
        lambda f: f.assign(**{f.columns[3]: f.iloc[:, 3].where(f.index != f.index[5], np.float32(1.07))}),
    )


def nan_column(d: Path) -> None:
    _edit(d, "cna.parquet", lambda f: f.assign(**{f.columns[2]: np.float32("nan")}))


def duplicate_sample_id(d: Path) -> None:
    def change(f: pd.DataFrame) -> pd.DataFrame:
        ids = f.index.tolist()
        ids[4] = ids[3]
        return f.set_axis(pd.Index(ids, name="sample_id"))

    _edit(d, "fragmentomics.parquet", change)


def sample_missing_from_modality(d: Path) -> None:
    _edit(d, "cna.parquet", lambda f: f.drop(index=f.index[10]))


def unknown_label(d: Path) -> None:
    _edit(d, "labels.parquet", lambda f: f.assign(label=f["label"].where(f.index != 7, "Z")))


def negative_fragment_count(d: Path) -> None:
    _edit(d, "fragmentomics.parquet", lambda f: f.assign(**{f.columns[1]: -f.iloc[:, 1] - 0.01}))


def wrong_feature_count(d: Path) -> None:
    _edit(d, "methylation.parquet", lambda f: f.drop(columns=f.columns[-1]))


def empty_file(d: Path) -> None:
    (d / "methylation.parquet").write_bytes(b"")


def truncated_parquet(d: Path) -> None:
    path = d / "fragmentomics.parquet"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def profile_not_normalised(d: Path) -> None:
    _edit(d, "fragmentomics.parquet", lambda f: f * np.float32(1.5))


def non_integer_state(d: Path) -> None:
    _edit(d, "cna_states.parquet", lambda f: f.assign(**{f.columns[0]: 9}))


def text_in_numeric_column(d: Path) -> None:
    _edit(d, "methylation.parquet", lambda f: f.assign(**{f.columns[0]: "n/a"}))


def sample_id_as_column(d: Path) -> None:
    _edit(d, "fragmentomics.parquet", lambda f: f.reset_index())


def profile_row_with_a_hole(d: Path) -> None:
    def change(f: pd.DataFrame) -> pd.DataFrame:
        f.iloc[0] = f.iloc[0] * 3  # the NaN must not exempt this row from the sum check
        f.iloc[0, 0] = np.nan
        return f

    _edit(d, "fragmentomics.parquet", change)


def zero_rows(d: Path) -> None:
    _edit(d, "methylation.parquet", lambda f: f.iloc[0:0])


def null_label(d: Path) -> None:
    _edit(d, "labels.parquet", lambda f: f.assign(label=f["label"].where(f.index != 7, None)))


def unknown_split_name(d: Path) -> None:
    names = np.array(["train", "val", "test"])[np.arange(60) % 3]
    _edit(d, "labels.parquet", lambda f: f.assign(split=np.where(f.index == 7, "holdout", names)))


def missing_label_column(d: Path) -> None:
    _edit(d, "labels.parquet", lambda f: f.drop(columns="label"))


def null_sample_id_in_labels(d: Path) -> None:
    _edit(d, "labels.parquet", lambda f: f.assign(sample_id=f["sample_id"].where(f.index != 7, None)))


def null_sample_id_in_modality(d: Path) -> None:
    def change(f: pd.DataFrame) -> pd.DataFrame:
        ids: list[str | None] = f.index.tolist()
        ids[10] = None
        return f.set_axis(pd.Index(ids, name="sample_id"))

    _edit(d, "cna.parquet", change)


def declared_count_mismatch(d: Path) -> None:
    path = d / "cohort.json"
    meta = json.loads(path.read_text())
    meta["modalities"]["cna"]["n_features"] = 999
    path.write_text(json.dumps(meta))


DEFECTS = {
    # defect: (planter, file named, column named or None for file-level, words in the message)
    "beta_out_of_range": (beta_out_of_range, "methylation.parquet", "cg00000003", "1.07"),
    "nan_column": (nan_column, "cna.parquet", "COLUMN:cna:2", "all 60 values are NaN"),
    "duplicate_sample_id": (duplicate_sample_id, "fragmentomics.parquet", "sample_id", "SYN-03"),
    # The message must name the modality file the sample is missing from, not another one.
    "sample_missing_from_modality": (
        sample_missing_from_modality,
        "labels.parquet",
        "sample_id",
        "missing from cna.parquet (e.g. SYN-10)",
    ),
    "unknown_label": (unknown_label, "labels.parquet", "label", "Z"),
    "negative_fragment_count": (negative_fragment_count, "fragmentomics.parquet", "fl_110_120", "60 of 60"),
    "wrong_feature_count": (wrong_feature_count, "methylation.parquet", "cg00000011", "found 11"),
    "empty_file": (empty_file, "methylation.parquet", None, "empty"),
    "truncated_parquet": (truncated_parquet, "fragmentomics.parquet", None, "not a readable Parquet file"),
    "profile_not_normalised": (profile_not_normalised, "fragmentomics.parquet", "<row sum>", "sums to 1"),
    "non_integer_state": (non_integer_state, "cna_states.parquet", "COLUMN:cna_states:0", "integer states"),
    "text_in_numeric_column": (text_in_numeric_column, "methylation.parquet", "cg00000000", "type"),
    "sample_id_as_column": (sample_id_as_column, "fragmentomics.parquet", "sample_id", "index"),
    "profile_row_with_a_hole": (profile_row_with_a_hole, "fragmentomics.parquet", "<row sum>", "1 of 60"),
    "zero_rows": (zero_rows, "methylation.parquet", None, "at least one sample"),
    "declared_count_mismatch": (declared_count_mismatch, "cohort.json", None, "n_features is 999"),
    "null_label": (null_label, "labels.parquet", "label", "1 of 60 values are NaN"),
    "unknown_split_name": (unknown_split_name, "labels.parquet", "split", "holdout"),
    "missing_label_column": (missing_label_column, "labels.parquet", "label", "required column(s) missing"),
    "null_sample_id_in_labels": (null_sample_id_in_labels, "labels.parquet", "sample_id", "1 of 60 values"),
    "null_sample_id_in_modality": (null_sample_id_in_modality, "cna.parquet", "sample_id", "1 of 60 values"),
}


def _column(spec: str | None, directory: Path) -> str | None:
    if spec is None or not spec.startswith("COLUMN:"):
        return spec
    _, file, index = spec.split(":")
    return pd.read_parquet(directory / f"{file}.parquet").columns[int(index)]


def test_clean_cohort_passes(tiny_cohort_dir: Path, tiny_params, tmp_path: Path):
    report = gate(tiny_cohort_dir, tiny_params.validation, tmp_path / "reports")
    assert report.passed and report.failures == []
    assert set(report.tables) == {"labels", "methylation", "fragmentomics", "cna", "cna_states"}
    assert all(table.expectations > 0 and table.failed == 0 for table in report.tables.values())
    saved = json.loads((tmp_path / "reports" / "report.json").read_text())
    assert saved["passed"] is True and saved["fingerprint"]
    assert json.loads((tmp_path / "reports" / "summary.json").read_text()) == {
        "passed": 1,
        "expectations": report.n_expectations,
        "failed": 0,
    }


def test_expectation_count_does_not_grow_with_table_width(tmp_path: Path):
    """Per-column checks run over the column profile and the long value table, so a 20,000-gene table
    costs what a 12-column one does (what each check catches is the defect matrix's job)."""
    counts = []
    for n_features, n_bins in ((12, 44), (48, 132)):
        raw = tiny_raw_params()
        raw["synthesize"]["methylation"]["n_features"] = n_features
        raw["synthesize"]["cna"]["n_bins"] = n_bins
        params = parse_params(raw)
        directory = tmp_path / f"width{n_features}"
        generate_cohort(params.synthesize, seed=params.base.seed, name="tiny").save(directory)
        report = run_gate(directory, params.validation)
        assert report.passed, report.console_text()
        assert report.tables["methylation"].columns == n_features
        counts.append({name: table.expectations for name, table in report.tables.items()})
    assert counts[0] == counts[1]


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_planted_defect_is_caught_and_named(defect: str, tiny_cohort_dir: Path, tiny_params, tmp_path: Path):
    plant, file, column_spec, words = DEFECTS[defect]
    column = _column(column_spec, tiny_cohort_dir)
    plant(tiny_cohort_dir)
    reports, downstream = tmp_path / "reports", tmp_path / "splits"

    with pytest.raises(ValidationFailed) as caught:
        stages.validate.validate(tiny_params, tiny_cohort_dir, reports)
    message = str(caught.value)
    matching = [
        f for f in caught.value.report.failures if f.file == file and (column is None or f.column == column)
    ]
    assert matching, f"{defect}: no failure names {file} / {column}:\n{message}"
    assert any(words in f.message() for f in matching), message
    assert file in message and (column is None or column in message)
    assert "FAILED" in (reports / "report.html").read_text()

    # Nothing downstream may run on a failed gate.
    with pytest.raises(CohortError, match="failed validation"):
        stages.split.split(tiny_params, tiny_cohort_dir, reports, downstream, tmp_path / "split.json")
    assert not downstream.exists() and not (tmp_path / "split.json").exists()


def test_missing_modality_sample_allowed_when_completeness_not_required(tiny_cohort_dir: Path, tiny_params):
    sample_missing_from_modality(tiny_cohort_dir)
    relaxed = tiny_params.validation.model_copy(update={"require_complete_modalities": False})
    assert run_gate(tiny_cohort_dir, relaxed).passed


def test_sample_unknown_to_labels_is_reported(tiny_cohort_dir: Path, tiny_params):
    _edit(tiny_cohort_dir, "labels.parquet", lambda f: f.drop(index=0))
    report = run_gate(tiny_cohort_dir, tiny_params.validation)
    named = {(f.file, f.column, f.check) for f in report.failures}
    assert ("cna.parquet", "sample_id", "sample IDs known in labels.parquet") in named


def test_nan_fraction_threshold_comes_from_params(tiny_cohort_dir: Path, tiny_params):
    # 3 of 60 values (5%) missing: allowed at 0.05, refused at 0.01.
    _edit(
        tiny_cohort_dir,
        "methylation.parquet",
        lambda f: f.assign(**{f.columns[0]: f.iloc[:, 0].where(np.arange(len(f)) >= 3)}),
    )
    assert run_gate(tiny_cohort_dir, tiny_params.validation).passed
    strict = tiny_params.validation.model_copy(update={"max_nan_fraction": 0.01})
    report = run_gate(tiny_cohort_dir, strict)
    assert [f.column for f in report.failures] == ["cg00000000"]
    assert "3 of 60 values are NaN" in report.failures[0].detail


def test_split_refuses_a_cohort_changed_after_validation(tiny_cohort_dir: Path, tiny_params, tmp_path: Path):
    reports = tmp_path / "reports"
    stages.validate.validate(tiny_params, tiny_cohort_dir, reports)
    beta_out_of_range(tiny_cohort_dir)
    with pytest.raises(CohortError, match="changed since it was validated"):
        stages.split.split(
            tiny_params, tiny_cohort_dir, reports, tmp_path / "splits", tmp_path / "split.json"
        )
    assert not (tmp_path / "splits").exists()


def test_split_runs_after_a_passed_gate(tiny_cohort_dir: Path, tiny_params, tmp_path: Path):
    reports = tmp_path / "reports"
    stages.validate.validate(tiny_params, tiny_cohort_dir, reports)
    result = stages.split.split(
        tiny_params, tiny_cohort_dir, reports, tmp_path / "splits", tmp_path / "split.json"
    )
    reloaded = Cohort.load(tmp_path / "splits")
    assert set(reloaded.labels["split"]) == {"train", "val", "test"}
    assert reloaded.labels.equals(result.labels.reset_index(drop=True))
    assert (
        json.loads((tmp_path / "split.json").read_text())["n_train"]
        == (reloaded.labels["split"] == "train").sum()
    )


def test_training_refuses_a_cohort_that_skipped_or_left_the_gate(tiny_cohort_dir, tiny_params, tmp_path):
    reports = tmp_path / "reports"
    stages.validate.validate(tiny_params, tiny_cohort_dir, reports)
    stages.split.split(tiny_params, tiny_cohort_dir, reports, tmp_path / "splits", tmp_path / "split.json")
    Cohort.load(tmp_path / "splits").save(tmp_path / "unstamped")  # same data, never validated
    with pytest.raises(CohortError, match=r"no validated\.json"):
        stages.train.train(tiny_params, tmp_path / "unstamped", tmp_path / "models", tmp_path / "work")
    beta_out_of_range(tmp_path / "splits")  # edited after the gate
    with pytest.raises(CohortError, match="changed since validation"):
        stages.train.train(tiny_params, tmp_path / "splits", tmp_path / "models", tmp_path / "work")
    assert not (tmp_path / "models").exists()


def test_every_offending_column_is_named_with_its_own_count(tiny_cohort_dir: Path, tiny_params):
    def plant(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.copy()
        frame.iloc[[1, 2], 0] = np.float32(1.5)
        frame.iloc[4, 5] = np.float32(-0.2)
        return frame

    _edit(tiny_cohort_dir, "methylation.parquet", plant)
    report = run_gate(tiny_cohort_dir, tiny_params.validation)
    found = {f.column: f.detail for f in report.failures}
    assert set(found) == {"cg00000000", "cg00000005"}
    assert found["cg00000000"].startswith("2 of 60 values out of range (e.g. 1.5 in ")
    assert found["cg00000005"].startswith("1 of 60 values out of range (e.g. -0.2 in ")


def test_a_feature_named_like_the_long_table_columns_is_checked_normally(tiny_cohort_dir: Path, tiny_params):
    _edit(tiny_cohort_dir, "methylation.parquet", lambda f: f.rename(columns={f.columns[0]: "value"}))
    meta_path = tiny_cohort_dir / "cohort.json"
    meta = json.loads(meta_path.read_text())
    meta["modalities"]["methylation"]["features"][0] = "value"
    meta_path.write_text(json.dumps(meta))
    assert run_gate(tiny_cohort_dir, tiny_params.validation).passed
    _edit(tiny_cohort_dir, "methylation.parquet", lambda f: f.assign(value=np.float32(2.0)))
    report = run_gate(tiny_cohort_dir, tiny_params.validation)
    assert [f.column for f in report.failures] == ["value"]
