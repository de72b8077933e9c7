"""Reading users' table files (CSV, TSV, Parquet) into numeric matrices, with errors a person can act on.

Text files are read as strings first, so that duplicate headers are seen before pandas renames them
(`gene.1`) and a non-numeric cell can be reported by its row and column instead of becoming NaN.

A modality file takes a fast path first (`_read_text_matrix`): the header is split as pandas would
split it, and Arrow's streaming CSV reader parses the body straight into numbers (a SigProfiler
catalogue of 96 rows × 9,493 samples in 0.2 s, where converting 9,493 string columns one by one took
10 s). Whatever that path cannot vouch for — a cell that is not a plain number or an NA marker, a row
of another width, a doubtful header — sends the file down the careful path, which reads it again as
strings and gives the exact error.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from oncofusion.data.decisions import Decisions
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


def trimmed_header(cells: list[str], path: Path, decisions: Decisions | None) -> list[str]:
    """Header cells without surrounding whitespace; each trim is counted (a header `S1 ` of a
    features × samples file is a sample ID, and must not be repaired silently)."""
    trimmed = [cell.strip() for cell in cells]
    changed = [repr(c) for c, t in zip(cells, trimmed, strict=True) if c != t]
    if decisions is not None:
        decisions.record(
            f"{path.name} (header): names trimmed of surrounding whitespace", len(changed), changed
        )
    return trimmed


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
    _require_full_rows(path, TEXT_SEPARATORS[suffix], grid.shape[1])
    header = trimmed_header([str(h) for h in grid.iloc[0]], path, decisions)
    body = grid.iloc[1:].reset_index(drop=True)
    body.columns = range(len(header))
    frame = body.set_axis(header, axis=1)
    return frame


def _require_full_rows(path: Path, separator: str, width: int) -> None:
    """pandas pads a short row with empty cells, which would pass as missing values: count fields."""
    uneven = _uneven_row_by_bytes(path, separator, width)
    if uneven is None:
        uneven = _uneven_row_by_csv(path, separator, width)
    if uneven:
        line, fields = uneven
        raise CohortError(
            f"{path}:{line}: {fields} field(s) where the widest row has {width}; "
            "a cut-off or mis-separated file?"
        )


def _uneven_row_by_csv(path: Path, separator: str, width: int) -> tuple[int, int] | tuple[()]:
    """(row number, fields) of the first non-blank row of another width, or () when there is none."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for line, row in enumerate(csv.reader(handle, delimiter=separator), start=1):
            if row and len(row) != width:
                return line, len(row)
    return ()


LINES_PER_READ = 1 << 26  # bytes read at a time when counting separators


def _uneven_row_by_bytes(path: Path, separator: str, width: int) -> tuple[int, int] | tuple[()] | None:
    """What `_uneven_row_by_csv` finds, by counting separator bytes per line with numpy; None when the
    file has quotes, NUL bytes or lone carriage returns, where lines and rows may differ (csv decides).

    UTF-8 never uses the bytes of a tab, comma or newline inside a character, so bytes count as text."""
    sep = ord(separator)
    line_base = 0
    carry = b""
    with path.open("rb") as handle:
        if handle.read(3) != b"\xef\xbb\xbf":  # utf-8-sig: the mark is not part of the first line
            handle.seek(0)
        while True:
            chunk = handle.read(LINES_PER_READ)
            data = carry + chunk
            if not data:
                return ()
            cut = len(data) if not chunk else data.rfind(b"\n") + 1
            if cut == 0:
                carry = data
                continue
            block, carry = data[:cut], data[cut:]
            if b'"' in block or b"\x00" in block or block.count(b"\r") != block.count(b"\r\n"):
                return None
            found = _uneven_line(block, sep, width)
            if isinstance(found, tuple):
                return line_base + found[0], found[1]
            line_base += found
            if not chunk:
                return ()


def _uneven_line(block: bytes, sep: int, width: int) -> tuple[int, int] | int:
    """(line within block, fields) of the first uneven non-blank line, else the block's line count."""
    arr = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(arr == 10)
    if not block.endswith(b"\n"):
        ends = np.append(ends, len(arr))
    starts = np.concatenate(([0], ends[:-1] + 1))
    separators = np.flatnonzero(arr == sep)
    fields = np.diff(np.searchsorted(separators, np.concatenate(([0], ends)))) + 1
    lengths = ends - starts
    lone_cr = np.zeros(len(ends), dtype=bool)
    one = lengths == 1
    lone_cr[one] = arr[starts[one]] == 13
    uneven = np.flatnonzero((lengths > 0) & ~lone_cr & (fields != width))
    if len(uneven):
        return int(uneven[0]) + 1, int(fields[uneven[0]])
    return len(ends)


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


CELLS_PER_BATCH = 1 << 21  # text cells converted at once by `to_numeric`


def to_numeric(values: pd.DataFrame, path: Path, row_ids: list[str], row_word: str) -> np.ndarray:
    """float32 matrix; empty/NA cells are NaN, any other non-number is an error naming row and column.

    Numeric columns are copied one by one; text columns are converted in batches of whole columns at
    once (stripped, NA markers missing, the rest through one `pd.to_numeric`), examples in column order.
    """
    result = np.empty(values.shape, dtype=np.float32)
    problems: list[str] = []
    n_bad = 0
    text_columns: list[int] = []
    for j in range(values.shape[1]):
        series = values.iloc[:, j]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            result[:, j] = series.to_numpy(dtype=np.float32, na_value=np.nan)
        else:
            text_columns.append(j)
    n_rows = values.shape[0]
    step = max(1, CELLS_PER_BATCH // max(n_rows, 1))
    for first in range(0, len(text_columns), step):
        batch = text_columns[first : first + step]
        cells = values.iloc[:, batch].to_numpy(dtype=object)
        text = pd.Series(cells.ravel(order="F"), dtype=object).astype("string").str.strip()
        missing = text.isna() | text.isin(MISSING_TEXT)
        parsed = pd.to_numeric(text.where(~missing), errors="coerce")
        bad = (parsed.isna() & ~missing).to_numpy().reshape(len(batch), n_rows)
        result[:, batch] = parsed.to_numpy(dtype=np.float32, na_value=np.nan).reshape(len(batch), n_rows).T
        if bad.any():
            n_bad += int(bad.sum())
            for k, i in np.argwhere(bad)[: EXAMPLES - len(problems)]:
                series = values.iloc[:, batch[k]]  # the cell as its column holds it (np.True_, 'x')
                problems.append(f"{row_word} {row_ids[i]!r}, column {series.name!r}: {series.iloc[i]!r}")
    if n_bad:
        raise CohortError(f"{path}: {n_bad} non-numeric cell(s), e.g. " + "; ".join(problems))
    _require_finite(result, path, row_ids, list(values.columns), row_word)
    return result


def _require_finite(result: np.ndarray, path: Path, row_ids: list[str], columns: list, row_word: str) -> None:
    """``result`` is rows × columns as the file has them; the first infinite value in reading order."""
    infinite = np.isinf(result)
    if infinite.any():
        i, j = np.argwhere(infinite)[0]
        raise CohortError(
            f"{path}: {int(infinite.sum())} infinite value(s), e.g. {row_word} {row_ids[i]!r}, "
            f"column {columns[j]!r}"
        )


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
    found = _header(path, separator, decisions)
    if found is None:
        return None
    header, body_offset = found
    width = len(header)
    if width < 2:
        return None
    lines = _count_lines(path)
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
    _require_finite(values.T, path, row_ids, columns, row_word)
    frame = pd.DataFrame(matrix, columns=features, copy=False)  # the matrix is the frame's own
    frame.index = pd.Index(sample_ids, name="sample_id")
    if frame.empty:
        raise CohortError(f"{path}: no samples")
    return frame


HEADER_BYTES = 1 << 16


def _count_lines(path: Path) -> int | None:
    """The file's lines (a last one without a newline counts), or None when a carriage return is not
    followed by a newline somewhere (one memchr pass when the file has no carriage return at all)."""
    lines = 0
    with path.open("rb") as handle:
        previous = b""
        while chunk := handle.read(LINES_PER_READ):
            if previous == b"\r" and not chunk.startswith(b"\n"):
                return None
            if b"\r" in chunk and chunk.count(b"\r") != chunk.count(b"\r\n") + chunk.endswith(b"\r"):
                return None
            lines += chunk.count(b"\n")
            previous = chunk[-1:]  # a carriage return ending one read may meet its newline in the next
    if previous == b"\r":
        return None
    return lines + (previous not in (b"", b"\n"))


def _header(path: Path, separator: str, decisions: Decisions) -> tuple[list[str], int] | None:
    """The stripped header cells as `read_raw` reads them, and the byte offset where the body starts;
    None when the first line is blank, holds a lone carriage return or NUL, or is quoted in a way
    Python's csv module and pandas read differently (a quoted header might run past its line)."""
    with path.open("rb") as handle:
        first = b""
        while b"\n" not in first:
            more = handle.read(HEADER_BYTES)
            if not more:
                return None  # a header and nothing else: the careful path says what is wrong
            first += more
    line = first[: first.index(b"\n") + 1]
    try:
        text = line.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    text = text[:-2] if text.endswith("\r\n") else text[:-1]
    if not text or "\r" in text or "\x00" in text:
        return None
    if '"' not in text:  # without quotes pandas' tokenizer splits on the separator, nothing else
        return trimmed_header(text.split(separator), path, decisions), len(line)
    cells = next(csv.reader([text], delimiter=separator), [])
    try:  # pandas renames repeated or empty names, so any such header disagrees and goes the careful way
        named = pd.read_csv(
            path, sep=separator, header=0, nrows=0, comment=None, encoding="utf-8-sig"
        ).columns.tolist()
    except Exception:  # the careful path reports an unreadable file
        return None
    if named != cells:
        return None
    return trimmed_header(cells, path, decisions), len(line)
