"""Sample identifiers as users' files spell them: trimmed, and checked for near-duplicates.

IDs are matched across files after trimming whitespace; each trim (and each ID stored as a number,
1.0 read as "1") is a counted decision in cohort.json, not a silent repair. Two IDs of one file that
become equal after trimming and case-folding (`S1` and `s1 `) are an error, not a guess: they are
either one sample typed twice or two samples a spreadsheet will confuse.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from oncofusion.data.decisions import Decisions
from oncofusion.errors import CohortError


def normalise_ids(
    raw: Iterable[object],
    where: str,
    what: str = "sample ID",
    fold_case: bool = True,
    decisions: Decisions | None = None,
) -> list[str]:
    """Trimmed string IDs; raises naming the file and the colliding spellings (feature names, where
    case can be meaningful, pass ``fold_case=False`` and only exact duplicates clash). What was
    changed is recorded in ``decisions`` (a cohort builder passes its own; without one it is logged)."""
    raw = list(raw)
    ids: list[str] = []
    for position, value in enumerate(raw):
        if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)) or not str(value).strip():
            raise CohortError(f"{where}: empty {what} at position {position + 1}")
        ids.append(_text(value))
    groups: dict[str, list[str]] = defaultdict(list)
    for original, trimmed in zip(raw, ids, strict=True):
        groups[trimmed.casefold() if fold_case else trimmed].append(repr(str(original)))
    clashes = [spellings for spellings in groups.values() if len(spellings) > 1]
    if clashes:
        shown = "; ".join(" vs ".join(s) for s in clashes[:5])
        how = "trimming whitespace and ignoring case" if fold_case else "trimming whitespace"
        raise CohortError(f"{where}: {len(clashes)} duplicate {what}(s) after {how}: {shown}")
    record_changes(raw, ids, where, what, decisions if decisions is not None else Decisions())
    return ids


def record_changes(raw: list[object], ids: list[str], where: str, what: str, decisions: Decisions) -> None:
    """Count the IDs that reading changed: trimmed of whitespace, or numbers written as text. The
    record names the file, not its path, so cohort.json is the same on every machine."""
    head, separator, tail = where.partition(" (")
    where = Path(head).name + separator + tail
    trimmed = [repr(str(r)) for r, i in zip(raw, ids, strict=True) if isinstance(r, str) and r != i]
    numbers = [
        f"{r!r}→{i!r}" for r, i in zip(raw, ids, strict=True) if not isinstance(r, str) and str(r) != i
    ]
    decisions.record(f"{where}: {what}s trimmed of surrounding whitespace", len(trimmed), trimmed)
    decisions.record(f"{where}: {what}s stored as numbers read as text", len(numbers), numbers)


def _text(value: object) -> str:
    """IDs stored as numbers (Parquet, Excel exports) match their text form: 1.0 → "1", not "1.0"."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def case_hint(unknown: Iterable[str], known: Iterable[str]) -> str:
    """A hint when unknown IDs differ from known ones only by case."""
    folded = {k.casefold(): k for k in known}
    pairs = [f"{u!r}→{folded[u.casefold()]!r}" for u in unknown if u.casefold() in folded]
    return f"; some differ only in case from labelled IDs ({', '.join(pairs[:3])})" if pairs else ""
