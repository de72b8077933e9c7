"""Reading users' table files (CSV, TSV, Parquet) into numeric matrices, with errors a person can act on.

Text files are read as strings first, so that duplicate headers are seen before pandas renames them
(`gene.1`) and a non-numeric cell can be reported by its row and column instead of becoming NaN.

A modality file takes a fast path first (`_read_text_matrix`): the header is split as pandas would
split it, and Arrow's streaming CSV reader parses the body straight into numbers (a SigProfiler
catalogue of 96 rows × 9,493 samples in 0.2 s, where converting 9,493 string columns one by one took
10 s). Whatever that path cannot vouch for — a cell that is not a plain number or an NA marker, a row
of another width, a doubtful header — sends the file down the careful path, which reads it again as
strings and gives the exact error.

Both paths share the byte-level checks of a text file's lines and header
(:mod:`oncofusion.data.tables.layout`) and the conversion of cells to numbers
(:mod:`oncofusion.data.tables.values`), so they accept and refuse the same files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from oncofusion.data.decisions import Decisions
from oncofusion.data.ids import normalise_ids
from oncofusion.data.tables.layout import count_lines, require_full_rows, text_header, trimmed_header
from oncofusion.data.tables.values import MISSING_TEXT, require_finite, to_numeric
from oncofusion.errors import CohortError

TEXT_SEPARATORS = {".csv": ",", ".tsv": "\t", ".txt": "\t"}
SUFFIXES = (*TEXT_SEPARATORS, ".parquet")


def find_file(directory: Path, stem: str, what: str) -> Path:
    """The one file ``<stem>.<csv|tsv|txt|parquet>`` in ``directory``."""
    found = [
        directory / f"{stem}{suffix}" for suffix in SUFFIXES if (directory / f"{stem}{suffix}").is_file()
    ]
    if not found:
        raise CohortError(
            f"{directory}: no {what} file {stem}.csv|.tsv|.txt|.parquet (or name it in params.yaml)"
        )
    if len(found) > 1:
        raise CohortError(f"{directory}: several {what} files ({', '.join(p.name for p in found)}); name one")
    return found[0]


def read_raw(path: Path, decisions: Decisions | None = None) -> pd.DataFrame:
    """The file as a frame of strings (text) or native types (Parquet), header and first column intact."""
    if not path.is_file():
        raise CohortError(f"{path}: file is missing")
    if path.stat().st_size == 0:
        raise CohortError(f"{path}: file is empty (0 bytes)")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return _parquet_frame(pd.read_parquet(path))
        if suffix in TEXT_SEPARATORS:
            grid = pd.read_csv(
                path,
                sep=TEXT_SEPARATORS[suffix],
                header=None,
                dtype=str,
                keep_default_na=False,
                comment=None,
                encoding="utf-8-sig",  # a spreadsheet's byte-order mark is not part of the first header
            )
        else:
            raise CohortError(f"{path}: unsupported file type '{suffix}'; use CSV, TSV or Parquet")
    except CohortError:
        raise
    except Exception as error:  # parser and Arrow errors come in many types
        raise CohortError(f"{path}: unreadable ({type(error).__name__}: {error})") from None
    if len(grid) < 1:
        raise CohortError(f"{path}: no header row")
    require_full_rows(path, TEXT_SEPARATORS[suffix], grid.shape[1])
    header = trimmed_header([str(h) for h in grid.iloc[0]], path, decisions)
    body = grid.iloc[1:].reset_index(drop=True)
    body.columns = range(len(header))
    frame = body.set_axis(header, axis=1)
    return frame


def _parquet_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Parquet may carry the IDs as the index: a named index, or unnamed string labels, is the ID
    column; an unnamed integer index (left by concatenating frames) is not data and is dropped."""
    if isinstance(frame.index, pd.RangeIndex) and frame.index.name is None:
        return frame
    if frame.index.name is not None:
        return frame.reset_index()
    if "sample_id" not in frame.columns and not pd.api.types.is_numeric_dtype(frame.index):
        return frame.reset_index(names="sample_id")
    return frame.reset_index(drop=True)


def read_matrix(path: Path, orientation: str, decisions: Decisions | None = None) -> pd.DataFrame:
    """A modality file as float32 samples × features, index ``sample_id``.

    ``samples_by_features``: rows are samples, the first column (or one named sample_id) holds their
    IDs. ``features_by_samples``: rows are features, the first column holds feature names and the
    header holds sample IDs.
    """
    decisions = decisions if decisions is not None else Decisions()
    tried = Decisions()  # the fast path's decisions count only if it is the path that reads the file
    fast = _read_text_matrix(path, orientation, tried)
    if fast is not None:
        decisions.items.extend(tried.items)
        return fast
    raw = read_raw(path, decisions)
    if raw.shape[1] < 2:
        raise CohortError(f"{path}: needs an ID column and at least one data column, found {raw.shape[1]}")
    columns = [str(c) for c in raw.columns]
    if orientation == "samples_by_features":
        id_column = "sample_id" if "sample_id" in columns else columns[0]
        features = normalise_ids(
            [c for c in columns if c != id_column],
            f"{path} (header)",
            "feature name",
            fold_case=False,
            decisions=decisions,
        )
        sample_ids = normalise_ids(raw[id_column], f"{path} (column {id_column!r})", decisions=decisions)
        values = raw[[c for c in raw.columns if str(c) != id_column]]
        row_ids, row_word = sample_ids, "sample"
    else:
        features = normalise_ids(
            raw.iloc[:, 0], f"{path} (first column)", "feature name", fold_case=False, decisions=decisions
        )
        sample_ids = normalise_ids(columns[1:], f"{path} (header)", decisions=decisions)
        values = raw.iloc[:, 1:]
        row_ids, row_word = features, "feature"
    matrix = to_numeric(values, path, row_ids, row_word)
    if orientation == "features_by_samples":
        matrix = matrix.T
    frame = pd.DataFrame(np.ascontiguousarray(matrix), columns=features)
    frame.index = pd.Index(sample_ids, name="sample_id")
    if frame.empty:
        raise CohortError(f"{path}: no samples")
    return frame


# Arrow parses the body in blocks of this size; a row must fit in one. Each block makes one array per
# column, so with 10,000 columns small blocks are slow (20,000 × 10,000 on 2 busy cores: 8 MiB 24 s,
# 64 MiB 15 s) and large ones hold more in memory at a time (peak RSS 1.4 and 2.5 GB).
BLOCK_BYTES = 1 << 26


def _read_text_matrix(path: Path, orientation: str, decisions: Decisions) -> pd.DataFrame | None:
    """`read_matrix` for a well-formed CSV/TSV file of plain numbers, or None to take the careful path.

    Arrow reads the body with the ID column as text and every other column as float64 (then float32,
    as the careful path's pandas numbers are), MISSING_TEXT as null (quoted or not, as read_raw's
    strings would be). Arrow refuses rows of another width and cells that are not numbers (whitespace
    around a number is trimmed, as `to_numeric` strips it); a NaN it parsed from text (``NAN``,
    ``-nan``, which `to_numeric` calls non-numeric) is caught by comparing NaN and null counts. Any of
    these returns None. The checks after parsing run in `read_matrix`'s order, so a file that passes
    them here would have passed them there, and one that fails gets the same error.
    """
    suffix = path.suffix.lower()
    if suffix not in TEXT_SEPARATORS or not path.is_file() or path.stat().st_size == 0:
        return None
    separator = TEXT_SEPARATORS[suffix]
    found = text_header(path, separator, decisions)
    if found is None:
        return None
    header, body_offset = found
    width = len(header)
    if width < 2:
        return None
    lines = count_lines(path)
    if lines is None:
        return None  # pandas ends a line at a lone \r in its own way; let it
    id_position = 0
    if orientation == "samples_by_features":
        id_column = "sample_id" if "sample_id" in header else header[0]
        if header.count(id_column) > 1:  # the careful path selects a frame, not a column: leave it so
            return None
        id_position = header.index(id_column)
    value_positions = [j for j in range(width) if j != id_position]
    # Rows are at most the body's lines (fewer with blank lines or quoted newlines). The matrix is
    # samples × features in memory; ``values`` is the same memory as value columns × rows.
    most = lines - 1
    if orientation == "features_by_samples":
        matrix = np.empty((len(value_positions), most), dtype=np.float32)
        values = matrix
    else:
        matrix = np.empty((most, len(value_positions)), dtype=np.float32)
        values = matrix.T
    names = [f"c{j}" for j in range(width)]
    row_text: list[str] = []
    n_rows = n_null = 0
    try:
        with pa.OSFile(str(path)) as handle:
            handle.seek(body_offset)
            reader = pa_csv.open_csv(  # batch by batch into the matrix: no whole float64 table in memory
                handle,
                read_options=pa_csv.ReadOptions(column_names=names, block_size=BLOCK_BYTES),
                parse_options=pa_csv.ParseOptions(delimiter=separator, newlines_in_values=True),
                convert_options=pa_csv.ConvertOptions(
                    column_types={
                        name: pa.string() if j == id_position else pa.float64()
                        for j, name in enumerate(names)
                    },
                    null_values=sorted(MISSING_TEXT),
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=True,
                ),
            )
            for batch in reader:
                arrays = batch.columns
                block = values[:, n_rows : n_rows + batch.num_rows]
                for k, j in enumerate(value_positions):
                    block[k] = arrays[j].to_numpy(zero_copy_only=False)
                    n_null += arrays[j].null_count
                row_text += arrays[id_position].to_pylist()
                n_rows += batch.num_rows
    except (pa.ArrowException, OSError, ValueError):  # a cell, row or encoding for the careful path
        return None
    if n_rows == 0:
        return None
    if n_rows < most and orientation == "features_by_samples":
        matrix = values = np.ascontiguousarray(matrix[:, :n_rows])
    elif n_rows < most:
        matrix = matrix[:n_rows]
        values = matrix.T
    if np.count_nonzero(np.isnan(matrix)) != n_null:
        return None  # text Arrow read as NaN (NAN, -nan) is a non-numeric cell for the careful path
    columns = [header[j] for j in value_positions]
    if orientation == "samples_by_features":
        features = normalise_ids(
            columns, f"{path} (header)", "feature name", fold_case=False, decisions=decisions
        )
        sample_ids = normalise_ids(row_text, f"{path} (column {id_column!r})", decisions=decisions)
        row_ids, row_word = sample_ids, "sample"
    else:
        features = normalise_ids(
            row_text, f"{path} (first column)", "feature name", fold_case=False, decisions=decisions
        )
        sample_ids = normalise_ids(columns, f"{path} (header)", decisions=decisions)
        row_ids, row_word = features, "feature"
    require_finite(values.T, path, row_ids, columns, row_word)
    frame = pd.DataFrame(matrix, columns=features, copy=False)  # the matrix is the frame's own
    frame.index = pd.Index(sample_ids, name="sample_id")
    if frame.empty:
        raise CohortError(f"{path}: no samples")
    return frame
