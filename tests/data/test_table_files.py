from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from oncofusion.data.tables import files as table_files
from oncofusion.data.tables import values as table_values
from oncofusion.data.tables.files import find_file, read_matrix
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


# The fast path (Arrow parses the body straight into numbers) and the careful path it falls back to.

BASES = "ACGT"
SUBSTITUTIONS = ("C>A", "C>G", "C>T", "T>A", "T>C", "T>G")
MUTATION_TYPES = [f"{a}[{s}]{b}" for s in SUBSTITUTIONS for a in BASES for b in BASES]  # SBS96


def _sigprofiler_table(path: Path, counts: np.ndarray, samples: list[str]) -> None:
    """features × samples, first column MutationType, as SigProfilerMatrixGenerator writes it."""
    lines = ["\t".join(["MutationType", *samples])]
    lines += ["\t".join([name, *map(str, row)]) for name, row in zip(MUTATION_TYPES, counts, strict=True)]
    path.write_text("\n".join(lines) + "\n")


def _careful_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(table_files, "_read_text_matrix", lambda *_: None)


def _fast_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any fall back to the careful path fails the test."""

    def refuse(path: Path) -> None:
        raise AssertionError(f"{path} went down the careful path")

    monkeypatch.setattr(table_files, "read_raw", refuse)


def test_wide_sigprofiler_table_reads_as_samples_by_features(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    rng = np.random.default_rng(0)
    samples = [f"TCGA-{i:02d}-{i * 7:04d}-01A" for i in range(400)]
    counts = rng.integers(0, 5000, size=(96, len(samples)))
    path = tmp_path / "sbs96.tsv"
    _sigprofiler_table(path, counts, samples)
    _fast_only(monkeypatch)
    matrix = read_matrix(path, "features_by_samples")
    assert matrix.shape == (400, 96) and matrix.index.name == "sample_id"
    assert matrix.index.tolist() == samples and matrix.columns.tolist() == MUTATION_TYPES
    assert matrix.dtypes.eq(np.float32).all()
    np.testing.assert_array_equal(matrix.to_numpy(), counts.T.astype(np.float32))
    assert matrix.loc[samples[3], "T[C>T]G"] == counts[MUTATION_TYPES.index("T[C>T]G"), 3]


def test_fast_and_careful_paths_give_the_same_frame(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    rng = np.random.default_rng(1)
    values = rng.normal(size=(30, 200)).round(6)
    frame = pd.DataFrame(values, columns=[f"g{j}" for j in range(200)])
    frame.insert(7, "sample_id", [f"S{i}" for i in range(30)])  # the ID column need not come first
    frame.iloc[2, 3] = np.nan
    path = tmp_path / "m.csv"
    frame.to_csv(path, index=False)
    fast = read_matrix(path, "samples_by_features")
    _careful_only(monkeypatch)
    careful = read_matrix(path, "samples_by_features")
    pd.testing.assert_frame_equal(fast, careful)
    assert np.isnan(fast.loc["S2", "g3"]) and fast.columns.tolist() == [f"g{j}" for j in range(200)]


def test_na_markers_in_a_wide_table_are_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    samples = [f"S{j}" for j in range(300)]
    counts = np.ones((96, 300), dtype=int).astype(str).astype(object)
    markers = ["NA", "", "NaN", "nan", "N/A", "null", "NULL", ".", '"NA"']
    for k, marker in enumerate(markers):
        counts[k * 10, k * 30] = marker
    path = tmp_path / "sbs96.tsv"
    _sigprofiler_table(path, counts, samples)
    _fast_only(monkeypatch)
    matrix = read_matrix(path, "features_by_samples")
    missing = np.argwhere(np.isnan(matrix.to_numpy()))
    assert missing.tolist() == [[k * 30, k * 10] for k in range(len(markers))]
    assert np.nansum(matrix.to_numpy()) == 96 * 300 - len(markers)


@pytest.mark.parametrize("cell", ["1e+05", "1E5", "100000", "1.0e5", " 1e+05 ", "+1e+05"])
def test_exponent_numbers_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cell: str):
    path = tmp_path / "m.tsv"
    path.write_text(f"gene\tS1\tS2\nTP53\t{cell}\t2.5E-3\nKRAS\t-1e-2\t0\n")
    _fast_only(monkeypatch)
    matrix = read_matrix(path, "features_by_samples")
    np.testing.assert_array_equal(matrix.to_numpy(), np.array([[1e5, -1e-2], [2.5e-3, 0]], dtype=np.float32))


@pytest.mark.parametrize("cell", ["high", "NAN", "-nan", "1,5", "True"])
def test_non_numeric_cell_in_a_wide_table_names_row_and_column(tmp_path: Path, cell: str):
    samples = [f"S{j}" for j in range(300)]
    counts = np.zeros((96, 300), dtype=int).astype(str).astype(object)
    counts[40, 250] = cell
    path = tmp_path / "sbs96.tsv"
    _sigprofiler_table(path, counts, samples)
    with pytest.raises(CohortError) as caught:
        read_matrix(path, "features_by_samples")
    assert str(caught.value) == (
        f"{path}: 1 non-numeric cell(s), e.g. feature {MUTATION_TYPES[40]!r}, column 'S250': {cell!r}"
    )


@pytest.mark.parametrize("cells_per_batch", [1, 6, table_values.CELLS_PER_BATCH])
def test_non_numeric_cells_give_five_examples_in_column_order_and_the_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cells_per_batch: int
):
    path = tmp_path / "m.csv"
    rows = ["sample_id,a,b,c,d", "S1,x,1,y,z", "S2,1,w,1,1", "S3,v,1,1,u"]
    path.write_text("\n".join(rows) + "\n")
    monkeypatch.setattr(table_values, "CELLS_PER_BATCH", cells_per_batch)  # 1 or 2 columns at once, or all
    with pytest.raises(CohortError) as caught:
        read_matrix(path, "samples_by_features")
    assert str(caught.value) == (
        f"{path}: 6 non-numeric cell(s), e.g. sample 'S1', column 'a': 'x'; sample 'S3', column 'a': 'v'; "
        "sample 'S2', column 'b': 'w'; sample 'S1', column 'c': 'y'; sample 'S1', column 'd': 'z'"
    )


def test_infinite_value_in_a_wide_table_is_named_alike_on_both_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    samples = [f"S{j}" for j in range(300)]
    counts = np.zeros((96, 300), dtype=int).astype(str).astype(object)
    counts[5, 200], counts[9, 3] = "inf", "-Infinity"
    path = tmp_path / "sbs96.tsv"
    _sigprofiler_table(path, counts, samples)
    expected = f"{path}: 2 infinite value(s), e.g. feature {MUTATION_TYPES[5]!r}, column 'S200'"
    with pytest.raises(CohortError) as fast:
        read_matrix(path, "features_by_samples")
    _careful_only(monkeypatch)
    with pytest.raises(CohortError) as careful:
        read_matrix(path, "features_by_samples")
    assert str(fast.value) == str(careful.value) == expected


@pytest.mark.parametrize("quoted", [False, True])
def test_a_short_row_in_a_wide_table_names_its_line(tmp_path: Path, quoted: bool):
    header = ["gene", *(f'"S{j}"' if quoted else f"S{j}" for j in range(300))]
    lines = ["\t".join(header)] + ["\t".join([f"G{i}", *["1"] * 300]) for i in range(20)]
    lines[13] = "\t".join(["G12", *["1"] * 150])  # line 14 of the file
    path = tmp_path / "m.tsv"
    path.write_text("\r\n".join(lines) + "\r\n")
    with pytest.raises(CohortError, match=r"m\.tsv:14: 151 field\(s\) where the widest row has 301"):
        read_matrix(path, "features_by_samples")


def test_duplicate_headers_in_a_wide_table_are_seen(tmp_path: Path):
    samples = [f"S{j}" for j in range(300)]
    samples[200] = "S7"
    path = tmp_path / "sbs96.tsv"
    _sigprofiler_table(path, np.zeros((96, 300), dtype=int), samples)
    with pytest.raises(CohortError, match=r"\(header\): 1 duplicate sample ID.*'S7' vs 'S7'"):
        read_matrix(path, "features_by_samples")


def test_quoted_header_and_ids_with_a_byte_order_mark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "m.csv"
    path.write_bytes('"sample_id","a b","c"\r\n"S1",1,2\r\n"S2","3",4\r\n'.encode("utf-8-sig"))
    _fast_only(monkeypatch)
    matrix = read_matrix(path, "samples_by_features")
    assert matrix.index.tolist() == ["S1", "S2"] and matrix.columns.tolist() == ["a b", "c"]
    np.testing.assert_array_equal(matrix.to_numpy(), np.array([[1, 2], [3, 4]], dtype=np.float32))


@pytest.mark.parametrize("orientation", ["samples_by_features", "features_by_samples"])
def test_blank_lines_and_a_quoted_newline_leave_fewer_rows_than_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, orientation: str
):
    path = tmp_path / "m.csv"
    path.write_text('id,a,b\n\nR1,1,2\n"R\n2",3,4\n\nR3,5,\n\n')
    fast = read_matrix(path, orientation)
    _careful_only(monkeypatch)
    careful = read_matrix(path, orientation)
    pd.testing.assert_frame_equal(fast, careful)
    assert fast.to_numpy().flags.c_contiguous
    rows = ["R1", "R\n2", "R3"]
    assert (fast.index if orientation == "samples_by_features" else fast.columns).tolist() == rows


def test_a_last_line_without_a_newline_stays_on_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    path = tmp_path / "m.tsv"
    path.write_text("gene\tS1\tS2\nTP53\t1\t2\nKRAS\t3\t4")
    _fast_only(monkeypatch)
    np.testing.assert_array_equal(read_matrix(path, "features_by_samples").to_numpy(), [[1, 3], [2, 4]])


def test_a_byte_order_mark_before_a_blank_first_line_is_not_a_short_row(tmp_path: Path):
    path = tmp_path / "m.csv"
    path.write_bytes("\nsample_id,g1,g2\nS1,1,2\nS2,3\n".encode("utf-8-sig"))
    with pytest.raises(CohortError, match=r"m\.csv:4: 2 field\(s\) where the widest row has 3"):
        read_matrix(path, "samples_by_features")


@pytest.mark.parametrize("careful", [False, True])
def test_a_padded_header_name_is_a_counted_decision(tmp_path: Path, careful: bool):
    """`S1 ` in a features × samples header is a sample ID read as `S1`: counted once, on the fast
    path and on the careful one (a quoted cell sends the file there)."""
    from oncofusion.data.decisions import Decisions

    path = tmp_path / "m.tsv"
    cell = '"7"' if careful else "7"
    path.write_text(f"gene\tS1 \tS2\nG1\t1\t{cell}\nG2\t3\t4\n")
    decisions = Decisions()
    matrix = read_matrix(path, "features_by_samples", decisions)
    assert matrix.index.tolist() == ["S1", "S2"]
    assert decisions.items == [
        {
            "decision": "m.tsv (header): names trimmed of surrounding whitespace",
            "count": 1,
            "examples": ["'S1 '"],
        }
    ]
