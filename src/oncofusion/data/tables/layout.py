"""What a text table's lines and header look like, read as bytes before any parser sees them.

pandas pads a short row with empty cells (which would pass as missing values), ends a line at a lone
carriage return in its own way, and renames repeated header names; these checks see the file as it is,
so a cut-off row or a doubtful header is reported, or sent down the careful path, instead of being
repaired silently. They count bytes with numpy where they can and fall back to Python's csv module
where quotes could make lines and rows differ.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from oncofusion.data.decisions import Decisions
from oncofusion.errors import CohortError

LINES_PER_READ = 1 << 26  # bytes read at a time when counting separators
HEADER_BYTES = 1 << 16


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


def require_full_rows(path: Path, separator: str, width: int) -> None:
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


def count_lines(path: Path) -> int | None:
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


def text_header(path: Path, separator: str, decisions: Decisions) -> tuple[list[str], int] | None:
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
