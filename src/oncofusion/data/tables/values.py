"""Cells to numbers: a table's values as a float32 matrix, where a cell that is not a number or an NA
marker, or is infinite, is an error naming its row and column instead of silently becoming NaN.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from oncofusion.errors import CohortError

EXAMPLES = 5  # non-numeric cells quoted in the error
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
    require_finite(result, path, row_ids, list(values.columns), row_word)
    return result


def require_finite(result: np.ndarray, path: Path, row_ids: list[str], columns: list, row_word: str) -> None:
    """``result`` is rows × columns as the file has them; the first infinite value in reading order."""
    infinite = np.isinf(result)
    if infinite.any():
        i, j = np.argwhere(infinite)[0]
        raise CohortError(
            f"{path}: {int(infinite.sum())} infinite value(s), e.g. {row_word} {row_ids[i]!r}, "
            f"column {columns[j]!r}"
        )
