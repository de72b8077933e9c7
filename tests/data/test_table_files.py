from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from oncofusion.data.table_files import find_file, read_matrix
from oncofusion.errors import CohortError

VALUES = np.array([[1.0, 2.5, np.nan], [4.0, 0.0, 6.0]], dtype=np.float32)
SAMPLES = ["S1", "S2"]
FEATURES = ["TP53", "KRAS", "EGFR"]


def _samples_by_features() -> pd.DataFrame:
    frame = pd.DataFrame(VALUES, columns=FEATURES)
    frame.insert(0, "sample_id", SAMPLES)
    return frame


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".txt", ".parquet"])
def test_every_format_reads_to_the_same_matrix(tmp_path: Path, suffix: str):
    path = tmp_path / f"rna{suffix}"
    frame = _samples_by_features()
    if suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, sep="," if suffix == ".csv" else "\t", index=False)
    matrix = read_matrix(path, "samples_by_features")
    assert matrix.index.tolist() == SAMPLES and matrix.index.name == "sample_id"
    assert matrix.columns.tolist() == FEATURES
    assert matrix.dtypes.eq(np.float32).all()
    np.testing.assert_array_equal(matrix.to_numpy(), VALUES)


@pytest.mark.parametrize("suffix", [".tsv", ".parquet"])
def test_features_by_samples_is_transposed(tmp_path: Path, suffix: str):
    path = tmp_path / f"rna{suffix}"
    transposed = pd.DataFrame(VALUES.T, columns=SAMPLES)
    transposed.insert(0, "gene", FEATURES)
    if suffix == ".parquet":
        transposed.to_parquet(path, index=False)
    else:
        transposed.to_csv(path, sep="\t", index=False)
    matrix = read_matrix(path, "features_by_samples")
    assert matrix.index.tolist() == SAMPLES and matrix.columns.tolist() == FEATURES
    np.testing.assert_array_equal(matrix.to_numpy(), VALUES)


def test_na_and_empty_cells_are_missing_values(tmp_path: Path):
    path = tmp_path / "m.csv"
    path.write_text("sample_id,a,b\nS1,NA,1\nS2,,2\n")
    matrix = read_matrix(path, "samples_by_features")
    assert matrix["a"].isna().all() and matrix["b"].tolist() == [1.0, 2.0]


def test_non_numeric_cell_names_its_row_and_column(tmp_path: Path):
    path = tmp_path / "m.csv"
    path.write_text("sample_id,TP53,KRAS\nS1,1.0,2\nS2,high,3\n")
    with pytest.raises(CohortError, match=r"m\.csv: 1 non-numeric cell.*sample 'S2', column 'TP53': 'high'"):
        read_matrix(path, "samples_by_features")


def test_non_numeric_cell_in_features_by_samples_names_the_feature(tmp_path: Path):
    path = tmp_path / "m.tsv"
    path.write_text("gene\tS1\tS2\nTP53\t1\t2\nKRAS\t3\tx\n")
    with pytest.raises(CohortError, match=r"feature 'KRAS', column 'S2': 'x'"):
        read_matrix(path, "features_by_samples")


def test_duplicate_feature_names_are_an_error(tmp_path: Path):
    path = tmp_path / "m.csv"
    path.write_text("sample_id,TP53,KRAS,TP53\nS1,1,2,3\n")
    with pytest.raises(CohortError, match=r"duplicate feature name.*'TP53'"):
        read_matrix(path, "samples_by_features")


def test_duplicate_features_as_rows_are_an_error(tmp_path: Path):
    path = tmp_path / "m.tsv"
    path.write_text("gene\tS1\nTP53\t1\nTP53 \t2\n")
    with pytest.raises(CohortError, match="duplicate feature name"):
        read_matrix(path, "features_by_samples")


@pytest.mark.parametrize("second", ["s1", " S1", "S1 "])
def test_sample_ids_colliding_after_trimming_or_case_are_an_error(tmp_path: Path, second: str):
    path = tmp_path / "m.csv"
    path.write_text(f"sample_id,a\nS1,1\n{second},2\n")
    with pytest.raises(CohortError, match=r"collide|duplicate sample ID"):
        read_matrix(path, "samples_by_features")


def test_infinite_values_are_an_error(tmp_path: Path):
    path = tmp_path / "m.csv"
    path.write_text("sample_id,a\nS1,inf\n")
    with pytest.raises(CohortError, match="infinite"):
        read_matrix(path, "samples_by_features")


def test_find_file_refuses_ambiguity(tmp_path: Path):
    (tmp_path / "rna.csv").write_text("x")
    assert find_file(tmp_path, "rna", "modality") == tmp_path / "rna.csv"
    (tmp_path / "rna.tsv").write_text("x")
    with pytest.raises(CohortError, match="several"):
        find_file(tmp_path, "rna", "modality")
    with pytest.raises(CohortError, match="no labels file"):
        find_file(tmp_path, "labels", "labels")


def test_a_short_row_is_an_error_not_missing_values(tmp_path: Path):
    path = tmp_path / "m.csv"
    path.write_text("sample_id,g1,g2,g3\nS1,1,2,3\nS2,4\n")
    with pytest.raises(CohortError, match=r"m\.csv:3: 2 field\(s\) where the widest row has 4"):
        read_matrix(path, "samples_by_features")


def test_a_byte_order_mark_is_not_part_of_the_header(tmp_path: Path):
    path = tmp_path / "m.csv"
    path.write_bytes("sample_id,g1\nS1,1\n".encode("utf-8-sig"))
    assert read_matrix(path, "samples_by_features").index.tolist() == ["S1"]


def test_parquet_index_left_by_concatenation_is_not_a_feature(tmp_path: Path):
    part = _samples_by_features()
    pd.concat([part.iloc[:1], part.iloc[1:]]).set_index(pd.Index([0, 0])).to_parquet(tmp_path / "a.parquet")
    assert read_matrix(tmp_path / "a.parquet", "samples_by_features").columns.tolist() == FEATURES
    named = _samples_by_features().set_index("sample_id")
    named.to_parquet(tmp_path / "b.parquet")
    matrix = read_matrix(tmp_path / "b.parquet", "samples_by_features")
    assert matrix.index.tolist() == SAMPLES and matrix.columns.tolist() == FEATURES


def test_numeric_sample_ids_match_their_text_form(tmp_path: Path):
    frame = pd.DataFrame({"sample_id": [1.0, 2.0], "g": [0.5, 0.6]})
    frame.to_parquet(tmp_path / "m.parquet", index=False)
    assert read_matrix(tmp_path / "m.parquet", "samples_by_features").index.tolist() == ["1", "2"]
