"""Reading users' table files (CSV, TSV, Parquet) into numeric matrices, with errors a person can act on.

Text files are read as strings first, so that duplicate headers are seen before pandas renames them
(`gene.1`) and a non-numeric cell can be reported by its row and column instead of becoming NaN.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from oncofusion.data.ids import normalise_ids
from oncofusion.errors import CohortError

TEXT_SEPARATORS = {".csv": ",", ".tsv": "\t", ".txt": "\t"}
SUFFIXES = (*TEXT_SEPARATORS, ".parquet")
EXAMPLES = 5


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


def read_raw(path: Path) -> pd.DataFrame:
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
    _require_full_rows(path, TEXT_SEPARATORS[suffix], grid.shape[1])
    header = [str(h).strip() for h in grid.iloc[0]]
    body = grid.iloc[1:].reset_index(drop=True)
    body.columns = range(len(header))
    frame = body.set_axis(header, axis=1)
    return frame


def _require_full_rows(path: Path, separator: str, width: int) -> None:
    """pandas pads a short row with empty cells, which would pass as missing values: count fields."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for line, row in enumerate(csv.reader(handle, delimiter=separator), start=1):
            if row and len(row) != width:
                raise CohortError(
                    f"{path}:{line}: {len(row)} field(s) where the widest row has {width}; "
                    "a cut-off or mis-separated file?"
                )


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


MISSING_TEXT = {"", "NA", "NaN", "nan", "N/A", "null", "NULL", "."}


def to_numeric(values: pd.DataFrame, path: Path, row_ids: list[str], row_word: str) -> np.ndarray:
    """float32 matrix; empty/NA cells are NaN, any other non-number is an error naming row and column."""
    result = np.empty(values.shape, dtype=np.float32)
    problems: list[str] = []
    n_bad = 0
    for j, column in enumerate(values.columns):
        series = values.iloc[:, j]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            result[:, j] = series.to_numpy(dtype=np.float32, na_value=np.nan)
            continue
        text = series.astype("string").str.strip()
        missing = text.isna() | text.isin(MISSING_TEXT)
        parsed = pd.to_numeric(text.where(~missing), errors="coerce")
        bad = parsed.isna() & ~missing
        if bad.any():
            n_bad += int(bad.sum())
            for i in np.flatnonzero(bad.to_numpy())[: EXAMPLES - len(problems)]:
                problems.append(f"{row_word} {row_ids[i]!r}, column {column!r}: {series.iloc[i]!r}")
        result[:, j] = parsed.to_numpy(dtype=np.float32, na_value=np.nan)
    if n_bad:
        raise CohortError(f"{path}: {n_bad} non-numeric cell(s), e.g. " + "; ".join(problems))
    infinite = np.isinf(result)
    if infinite.any():
        i, j = np.argwhere(infinite)[0]
        raise CohortError(
            f"{path}: {int(infinite.sum())} infinite value(s), e.g. {row_word} {row_ids[i]!r}, "
            f"column {values.columns[j]!r}"
        )
    return result


def read_matrix(path: Path, orientation: str) -> pd.DataFrame:
    """A modality file as float32 samples × features, index ``sample_id``.

    ``samples_by_features``: rows are samples, the first column (or one named sample_id) holds their
    IDs. ``features_by_samples``: rows are features, the first column holds feature names and the
    header holds sample IDs.
    """
    raw = read_raw(path)
    if raw.shape[1] < 2:
        raise CohortError(f"{path}: needs an ID column and at least one data column, found {raw.shape[1]}")
    columns = [str(c) for c in raw.columns]
    if orientation == "samples_by_features":
        id_column = "sample_id" if "sample_id" in columns else columns[0]
        features = normalise_ids(
            [c for c in columns if c != id_column], f"{path} (header)", "feature name", fold_case=False
        )
        sample_ids = normalise_ids(raw[id_column], f"{path} (column {id_column!r})")
        values = raw[[c for c in raw.columns if str(c) != id_column]]
        row_ids, row_word = sample_ids, "sample"
    else:
        features = normalise_ids(raw.iloc[:, 0], f"{path} (first column)", "feature name", fold_case=False)
        sample_ids = normalise_ids(columns[1:], f"{path} (header)")
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
